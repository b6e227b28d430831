"""Configuration read once from the environment (see the README's configuration table)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ecosystem.identity_providers import Provider, parse_providers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite://{PROJECT_ROOT / 'var' / 'ecosystem.sqlite3'}"

# Domain packages mounted by the app factory, in order. Each names a module exposing
# `package: ecosystem.packages.DomainPackage`. The kernel never imports them directly.
DEFAULT_PACKAGES = ("labs", "incubator", "hackathon")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Set by `python -m ecosystem serve` for its own processes: the address it serves, the base
# of links when BASE_URL is not set.
SERVED_URL_ENV = "ECOSYSTEM_SERVED_URL"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # The public address of the site, for links in e-mails, the calendar feed, QR codes and
    # certificates: BASE_URL, else the address `serve` listens on, else 127.0.0.1:8000.
    base_url: str = DEFAULT_BASE_URL
    # True when BASE_URL was set: then it wins even for links shown in a request's page.
    base_url_is_set: bool = False
    smtp_url: str | None = None
    mail_from: str = "Binh Duong Innovation Region <no-reply@innovation.binhduong.gov.vn>"
    media_dir: Path = PROJECT_ROOT / "var" / "media"
    max_upload_bytes: int = 5 * 1024 * 1024
    default_timezone: str = "Asia/Ho_Chi_Minh"
    default_locale: str = "vi"
    # Sign-in throttle (ecosystem.services.throttle): wrong passwords per (address, account)
    # pair and per address in the window, then growing; the account-wide ceiling per
    # `login_ceiling_seconds`, from every address, is much higher and e-mails the owner.
    login_attempts_per_pair: int = 5
    login_attempts_per_address: int = 20
    login_window_seconds: int = 900
    login_attempts_per_account: int = 100
    login_ceiling_seconds: int = 3600
    # Direct peers (IPs or CIDR networks) whose X-Forwarded-For/-Proto are believed.
    forwarded_allow_ips: tuple[str, ...] = ()
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    # Platform admins must sign in with a second factor (ADMINS_NEED_SECOND_FACTOR=0 turns
    # this off, e.g. for the first admin of a demo; the test suite opts in where it tests it).
    admins_need_second_factor: bool = True
    # Without Redis, cron entries run inside the web process (tests switch this off).
    inline_cron: bool = True
    debug: bool = False
    # Stripe: without a secret key, priced bookings are paid at the lab and marked by staff.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    payment_hold_minutes: int = 15
    # VNPay (payment URL v2.1, IPN, querydr/refund API): the merchant's terminal code and hash
    # secret switch it on; the two URLs default to VNPay's sandbox.
    vnpay_tmn_code: str = ""
    vnpay_hash_secret: str = ""
    vnpay_payment_url: str = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
    vnpay_api_url: str = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
    # OpenID Connect sign-in providers from OIDC_PROVIDERS, a JSON list of objects: name (in
    # URLs), title (on the button), issuer, client_id, client_secret, optional email_domains
    # (list) and organisation (slug of the organisation it is tied to). Platform admins add
    # more in the admin area (/admin/identity-providers).
    oidc_providers: tuple[Provider, ...] = ()

    @property
    def jobs_backend(self) -> str:
        return "redis" if self.redis_url else "inline"

    @property
    def online_payments(self) -> bool:
        """Online payment through at least one provider (Stripe or VNPay)."""
        return bool(self.payment_providers)

    @property
    def payment_providers(self) -> tuple[str, ...]:
        """The configured online payment providers: Stripe (both keys), VNPay (code + secret)."""
        found: list[str] = []
        if self.stripe_secret_key and self.stripe_webhook_secret:
            found.append("stripe")
        if self.vnpay_tmn_code and self.vnpay_hash_secret:
            found.append("vnpay")
        return tuple(found)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        secret = env.get("SECRET_KEY") or _dev_secret()
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            "redis_url": env.get("REDIS_URL") or None,
            "secret_key": secret,
            "base_url": (env.get("BASE_URL") or env.get(SERVED_URL_ENV) or DEFAULT_BASE_URL).rstrip(
                "/"
            ),
            "base_url_is_set": bool(env.get("BASE_URL", "").strip()),
            "smtp_url": env.get("SMTP_URL") or None,
            "mail_from": env.get("MAIL_FROM") or cls.mail_from,
            "media_dir": Path(env.get("MEDIA_DIR") or cls().media_dir),
            "max_upload_bytes": _env_int("MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            "default_timezone": env.get("DEFAULT_TIMEZONE") or cls.default_timezone,
            "debug": env.get("DEBUG", "") in ("1", "true", "yes"),
            "admins_need_second_factor": env.get("ADMINS_NEED_SECOND_FACTOR", "1").strip()
            not in ("0", "false", "no"),
            "stripe_secret_key": env.get("STRIPE_SECRET_KEY", "").strip(),
            "stripe_webhook_secret": env.get("STRIPE_WEBHOOK_SECRET", "").strip(),
            "stripe_api_base": (env.get("STRIPE_API_BASE") or cls.stripe_api_base).rstrip("/"),
            "payment_hold_minutes": _env_int("PAYMENT_HOLD_MINUTES", cls.payment_hold_minutes),
            "vnpay_tmn_code": env.get("VNPAY_TMN_CODE", "").strip(),
            "vnpay_hash_secret": env.get("VNPAY_HASH_SECRET", "").strip(),
            "vnpay_payment_url": (env.get("VNPAY_PAYMENT_URL") or "").strip()
            or cls.vnpay_payment_url,
            "vnpay_api_url": (env.get("VNPAY_API_URL") or "").strip() or cls.vnpay_api_url,
        }
        if forwarded := env.get("FORWARDED_ALLOW_IPS", "").strip():
            values["forwarded_allow_ips"] = tuple(
                part.strip() for part in forwarded.split(",") if part.strip()
            )
        if raw_providers := env.get("OIDC_PROVIDERS", "").strip():
            values["oidc_providers"] = parse_providers(raw_providers)
        if "PACKAGES" in env:
            values["packages"] = tuple(p for p in env["PACKAGES"].split(",") if p.strip())
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def served_url(host: str, port: int) -> str:
    """The address a browser on this machine uses for `serve --host H --port P`: an
    all-interfaces bind (0.0.0.0, ::) is reached at the loopback address."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _dev_secret() -> str:
    """A per-checkout secret for development, so sessions survive restarts.

    Production sets SECRET_KEY; several web processes must share it.
    """
    path = PROJECT_ROOT / "var" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


_current: Settings | None = None


def configure(settings: Settings) -> None:
    """Make `settings` the process-wide configuration (app factory, worker, CLI)."""
    global _current
    _current = settings


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current
