"""The UI language: the one a user chose (users.locale), else the browser's Accept-Language.

Flask-Babel reads the catalogs in ``dashboard/translations`` for the login and error
pages as well as every Dash page; ``POST /locale`` stores the choice so it follows the
user to any browser.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request
from flask_babel import Babel, get_locale
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from backend.desk import current_desk
from backend.resilience import Unavailable
from backend.web import users
from backend.web.access import VIEWER, access
from backend.web.auth import safe_next

LOCALES = ("en", "es")
DEFAULT = "en"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "dashboard" / "translations"

bp = Blueprint("locale", __name__)


def select_locale() -> str:
    """The user's chosen language, else the browser's. Looking the user up needs the
    database; with it away the 503 page is still written, in the browser's language."""
    try:
        chosen = getattr(current_user, "locale", None) if current_user else None
    except Unavailable:
        chosen = None
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES, default=DEFAULT)


def current() -> str:
    """The language of this request ("en" outside one)."""
    locale = get_locale()
    return locale.language if locale else DEFAULT


@bp.post("/locale")
@access(VIEWER)
def choose():
    locale = request.form.get("locale")
    if locale not in LOCALES:
        raise BadRequest(f"locale must be one of {', '.join(LOCALES)}")
    with current_desk().sessions.begin() as db:
        users.set_locale(db, current_user.username, locale)
    return redirect(_back())


def _back() -> str:
    """The page the switch was pressed on (same origin only), else the board."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return "/"
    return safe_next(referrer.path or "/")


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.context_processor(lambda: {"locale": current()})
    app.register_blueprint(bp)
