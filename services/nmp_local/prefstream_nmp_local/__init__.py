"""nmp-local: a local stand-in for the NeMo platform APIs prefstream uses.

``create_app(settings)`` builds the ASGI app, ``serve(settings)`` runs it under uvicorn,
``python -m prefstream_nmp_local`` is the command line, and
``prefstream_nmp_local.testing.running_nmp_local`` starts it as a subprocess for tests.
"""

from prefstream_nmp_local.app import create_app
from prefstream_nmp_local.server import serve
from prefstream_nmp_local.settings import NmpLocalSettings

__all__ = ["NmpLocalSettings", "create_app", "serve"]
