"""A test-only domain package: one slow, idempotent job for the worker-kill proof.

Only the production-shape test's worker mounts it (`PACKAGES=labs,tests.production.probe`):
no models, no routes. The job writes to two tables the test creates itself.
"""

from __future__ import annotations

from ecosystem.packages import DomainPackage
from tests.production.probe.jobs import slow_probe

package = DomainPackage(name="probe", jobs=[slow_probe])
