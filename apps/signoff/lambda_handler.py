"""The signoff app on Lambda behind API Gateway or an ALB: ``handler`` is the entry point.

Settings come from the function's environment (``apps.signoff.config``); secrets are read
once per container from their references. Dev login cannot run here: production settings
accept ``AUTH_MODE=oidc`` only.
"""

from apig_wsgi import make_lambda_handler

from apps.signoff import create_app
from apps.signoff.config import production_settings

app = create_app(production_settings())
handler = make_lambda_handler(app, binary_support=True)
