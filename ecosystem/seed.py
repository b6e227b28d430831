"""Demo data: the real partners of the Binh Duong innovation region and demo accounts.

Idempotent: running it again changes nothing that is already there.
"""

from __future__ import annotations

from tortoise import timezone

from ecosystem.models import (
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationDomain,
    OrganisationSphere,
    Role,
    Sphere,
    User,
    Verification,
)
from ecosystem.security import hash_password
from ecosystem.text import fold

DEMO_PASSWORD = "demo-pass-2026"

G, E, U, R = Sphere.GOVERNMENT, Sphere.ENTERPRISE, Sphere.UNIVERSITY, Sphere.RESEARCH_INSTITUTE
A, X = Sphere.ASSOCIATION, Sphere.INTERNATIONAL_PARTNER

# (slug, name, spheres, city, country, website, email domains, description)
PARTNERS: list[tuple[str, str, tuple[Sphere, ...], str, str, str, tuple[str, ...], str]] = [
    (
        "sokhcn-binh-duong",
        "Sở Khoa học và Công nghệ tỉnh Bình Dương",
        (G,),
        "Thủ Dầu Một",
        "VN",
        "https://sokhcn.binhduong.gov.vn",
        ("sokhcn.binhduong.gov.vn",),
        "Provincial Department of Science and Technology: science, technology and "
        "innovation policy.",
    ),
    (
        "smart-city-office",
        "Văn phòng Thành phố thông minh Bình Dương",
        (G,),
        "Thủ Dầu Một",
        "VN",
        "https://smartcity.binhduong.gov.vn",
        (),
        "Smart City office of Binh Duong province (decision 3206/QĐ-UBND, 2016).",
    ),
    (
        "trung-tam-doi-moi-sang-tao",
        "Trung tâm Đổi mới sáng tạo Bình Dương",
        (G, A),
        "Thủ Dầu Một",
        "VN",
        "",
        (),
        "Provincial Innovation Center: community initiatives and startup support (2020).",
    ),
    (
        "becamex-idc",
        "Tổng Công ty Becamex IDC",
        (E,),
        "Thủ Dầu Một",
        "VN",
        "https://becamex.com.vn",
        ("becamex.com.vn",),
        "Industrial developer; hosts Becamex FabLab and the Becamex Business Incubator.",
    ),
    (
        "becamex-business-incubator",
        "Vườn ươm doanh nghiệp Becamex (BBI)",
        (E, A),
        "Thủ Dầu Một",
        "VN",
        "",
        (),
        "Business incubator hosted at EIU, run on an international model.",
    ),
    (
        "philips-lighting",
        "Philips Lighting Việt Nam",
        (E, X),
        "Hồ Chí Minh",
        "VN",
        "https://www.signify.com",
        (),
        "Smart lighting lab and Living Lab partner at EIU.",
    ),
    (
        "vnpt-binh-duong",
        "VNPT Bình Dương",
        (E,),
        "Thủ Dầu Một",
        "VN",
        "https://vnpt.com.vn",
        (),
        "Telecommunications and digital government services.",
    ),
    (
        "viettel-binh-duong",
        "Viettel Bình Dương",
        (E,),
        "Thủ Dầu Một",
        "VN",
        "https://viettel.vn",
        (),
        "Telecommunications and smart city infrastructure.",
    ),
    ("fpt", "FPT", (E,), "Hà Nội", "VN", "https://fpt.com", (), "Technology and education group."),
    (
        "eiu",
        "Trường Đại học Quốc tế Miền Đông (EIU)",
        (U,),
        "Thủ Dầu Một",
        "VN",
        "https://eiu.edu.vn",
        ("eiu.edu.vn",),
        "Eastern International University: hosts the Philips lighting lab and the "
        "Becamex incubator.",
    ),
    (
        "tdmu",
        "Trường Đại học Thủ Dầu Một (TDMU)",
        (U, R),
        "Thủ Dầu Một",
        "VN",
        "https://tdmu.edu.vn",
        ("tdmu.edu.vn",),
        "Thu Dau Mot University: biotechnology FabLab and ICT FabLab.",
    ),
    (
        "vsvc",
        "Trường Cao đẳng nghề Việt Nam – Singapore",
        (U,),
        "Thuận An",
        "VN",
        "",
        (),
        "Vietnam–Singapore vocational college: mechatronics lab.",
    ),
    (
        "brainport-eindhoven",
        "Brainport Eindhoven",
        (X, G),
        "Eindhoven",
        "NL",
        "https://brainporteindhoven.com",
        (),
        "The model region of the triple helix (Netherlands).",
    ),
    (
        "tu-eindhoven",
        "Eindhoven University of Technology",
        (U, R, X),
        "Eindhoven",
        "NL",
        "https://www.tue.nl",
        (),
        "Research university, partner in smart city programmes.",
    ),
    (
        "daedeok-innopolis",
        "Daedeok Innopolis (Daejeon)",
        (X, G, R),
        "Daejeon",
        "KR",
        "https://www.innopolis.or.kr",
        (),
        "Science town of Daejeon; co-host of the 2018 contest.",
    ),
    (
        "world-technopolis-association",
        "World Technopolis Association (WTA)",
        (A, X),
        "Daejeon",
        "KR",
        "https://www.wtanet.org",
        (),
        "International association of science parks.",
    ),
    (
        "fraunhofer",
        "Fraunhofer-Gesellschaft",
        (R, X),
        "München",
        "DE",
        "https://www.fraunhofer.de",
        (),
        "Applied research institutes.",
    ),
    (
        "portland-state-university",
        "Portland State University",
        (U, X),
        "Portland",
        "US",
        "https://www.pdx.edu",
        (),
        "Smart city research partner.",
    ),
]

DEMO_USERS: list[tuple[str, str, bool]] = [
    ("admin@example.org", "Quản trị viên Nền tảng", True),
    ("student@example.org", "Nguyễn Thị Lan", False),
    ("staff@example.org", "Trần Văn Minh", False),
    ("founder@example.org", "Lê Hoàng Nam", False),
    ("manager@example.org", "Phạm Thu Hà", False),
    ("judge@example.org", "Kim Min-jun", False),
    ("organiser@example.org", "Võ Thanh Tùng", False),
]

DEMO_MEMBERSHIPS: list[tuple[str, str, Role]] = [
    ("student@example.org", "eiu", Role.MEMBER),
    ("staff@example.org", "becamex-idc", Role.ADMIN),
    ("manager@example.org", "becamex-business-incubator", Role.ADMIN),
    ("organiser@example.org", "smart-city-office", Role.ADMIN),
    ("judge@example.org", "daedeok-innopolis", Role.MEMBER),
    ("admin@example.org", "sokhcn-binh-duong", Role.OWNER),
]


async def _partner(entry: tuple) -> Organisation:
    slug, name, spheres, city, country, website, domains, description = entry
    organisation, created = await Organisation.get_or_create(
        slug=slug,
        defaults={
            "name": name,
            "search_key": fold(name),
            "city": city,
            "country": country,
            "website": website,
            "description": description,
            "verification": Verification.VERIFIED,
        },
    )
    if created:
        await OrganisationSphere.bulk_create(
            [OrganisationSphere(organisation_id=organisation.id, sphere=s) for s in spheres]
        )
        await OrganisationDomain.bulk_create(
            [OrganisationDomain(organisation_id=organisation.id, domain=d) for d in domains]
        )
    return organisation


async def _demo_user(email: str, name: str, admin: bool, password_hash: str) -> User:
    user, _created = await User.get_or_create(
        email=email,
        defaults={
            "full_name": name,
            "password_hash": password_hash,
            "is_platform_admin": admin,
            "email_verified_at": timezone.now(),
            "locale": "en" if email.startswith("judge") else "vi",
        },
    )
    return user


async def seed_kernel() -> dict[str, Organisation]:
    organisations = {entry[0]: await _partner(entry) for entry in PARTNERS}
    password_hash = hash_password(DEMO_PASSWORD)
    users = {
        email: await _demo_user(email, name, admin, password_hash)
        for email, name, admin in DEMO_USERS
    }
    for email, slug, role in DEMO_MEMBERSHIPS:
        await Membership.get_or_create(
            user_id=users[email].id,
            organisation_id=organisations[slug].id,
            defaults={"role": role, "status": MembershipStatus.ACTIVE},
        )
    return organisations
