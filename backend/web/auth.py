"""Who is asking: a session for people (Flask-Login), a bearer token for scripts, and the
guard that applies every route's access decision before any view runs.

Unauthenticated JSON and callback requests get 401 JSON; pages redirect to the login
with a ``next`` that can only point back into the desk; a role too low gets 403 with a
message. A session is tied to the user's ``session_version``: a new password, a new role,
disabling the user or logging out ends it on the next request. It also ends
``SESSION_HOURS`` after the login, however busy the trader has been since.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from backend.desk import current_desk
from backend.web import users
from backend.web.access import PUBLIC, VIEWER, access, allowed, required
from backend.web.credentials import Credentials, DeskUser
from backend.web.security import csrf, limiter

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, template_folder="templates")
login_manager = LoginManager()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGNED_IN_AT = "signed_in_at"  # in the session: when the login was made (Unix seconds)


def current_actor() -> str:
    """The name audit columns record for this request."""
    return current_user.username if current_user.is_authenticated else "anonymous"


def via() -> str:
    """How this request authenticated: "session", "token NAME" or "anonymous"."""
    if g.get("auth_via") == "token":
        return f"token {g.token_name}"
    return g.get("auth_via", "anonymous")


def _session_ended(desk) -> bool:
    """A login lasts ``SESSION_HOURS`` from the moment it was made, however busy the
    trader: the signed cookie alone would slide with every answer."""
    signed_in = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in, int | float):  # a session made before logins were dated
        return True
    return desk.now().timestamp() - signed_in >= desk.settings.session_hours * 3600


@login_manager.user_loader
def _load_session_user(user_id: str) -> DeskUser | None:
    ident, _, version = user_id.partition(":")
    if not (user_id.isascii() and ident.isdigit() and version.isdigit()) or len(ident) > 10:
        return None
    desk = current_desk()
    if _session_ended(desk):
        hours = f"{desk.settings.session_hours:g}"
        g.auth_error = f"the session has ended (a login lasts {hours} h); log in again"
        return None
    user = current_app.extensions["credentials"].user(desk, int(ident), int(version))
    if user is not None:
        g.auth_via = "session"
    return user


@login_manager.request_loader
def _load_token_user(req) -> DeskUser | None:
    header = req.headers.get("Authorization")
    if not header:
        return None
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        g.auth_error = "send the token as: Authorization: Bearer <token>"
        return None
    desk = current_desk()
    found = current_app.extensions["credentials"].token(
        desk, raw.strip(), desk.now(), req.remote_addr
    )
    if found is None:
        g.auth_error = "the token is invalid, expired or revoked"
        return None
    g.auth_via, g.token_name = "token", found.name
    return found.user


def wants_json() -> bool:
    path = request.path
    return (
        path.startswith(("/api/", "/_dash-")) or request.accept_mimetypes.best == "application/json"
    )


def _refuse(status: int, message: str):
    response = jsonify(error=message, status=status)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="desk"'
    return response


def guard():
    """Runs before every request: the route's decision, then who asks, then CSRF."""
    if request.endpoint is None:  # no route matched: the 404/405 handlers answer
        return None
    level, check = required(current_app, request.endpoint)
    if level is None:
        log.error("route %s has no access decision; refused", request.endpoint)
        return _refuse(403, "this route has no access decision; it is closed")
    if level != PUBLIC:
        if not current_user.is_authenticated:
            if wants_json():
                return _refuse(
                    401,
                    g.get("auth_error") or "log in first, or send Authorization: Bearer <token>",
                )
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not allowed(current_user.role, level):
            return _refuse(
                403, f"this needs the {level} role; {current_user.username} is {current_user.role}"
            )
        if g.get("auth_via") == "session" and request.method not in SAFE_METHODS:
            csrf.protect()
    return check() if check else None


def safe_next(target: str | None) -> str:
    """Only a path inside the desk: no scheme, no host, no ``//`` or backslash tricks."""
    if not target or len(target) > 2000:
        return "/"
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    return target


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


def _failed(response) -> bool:
    return response.status_code != 302


def _only_too_long(form: LoginForm) -> bool:
    """Both fields typed, the token good, and a field past its length: a wrong login."""
    return (
        bool(form.username.data and form.password.data)
        and not form.csrf_token.errors
        and set(form.errors) <= {"username", "password"}
    )


def _typed_name() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower()[:64]


@bp.route("/login", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(
    lambda: current_desk().settings.login_rate_limit, methods=["POST"], deduct_when=_failed
)
@limiter.limit(
    lambda: current_desk().settings.login_user_rate_limit,
    key_func=_typed_name,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    desk = current_desk()
    # The form fields only: Flask-WTF would otherwise read a JSON body as the form and
    # crash (500) on any JSON that is not an object, such as "x" or 1.
    form = LoginForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
    error, status = None, 200
    if form.validate_on_submit():
        name = form.username.data.strip()
        with desk.sessions.begin() as db:
            row = users.authenticate(db, name, form.password.data)
            users.record(
                db, "login_ok" if row else "login_failed", name, desk.now(), ip=request.remote_addr
            )
            user = DeskUser.of(row) if row else None
        if user is not None:
            session.clear()
            login_user(user)
            session.permanent = True
            session[SIGNED_IN_AT] = int(desk.now().timestamp())
            log.info("login %s (%s)", user.username, user.role)
            return redirect(safe_next(form.next.data))
        log.warning("failed login for %r from %s", name[:64], request.remote_addr)
        error, status = _("Wrong user name or password, or the user is disabled."), 401
    elif request.method == "POST" and _only_too_long(form):  # no login is that long
        log.warning("failed login (over-long name or password) from %s", request.remote_addr)
        error, status = _("Wrong user name or password, or the user is disabled."), 401
    elif request.method == "POST":
        error, status = _("The form expired or was incomplete; please try again."), 400
    with desk.sessions() as db:
        no_admin = not users.admins_exist(db)
    return render_template("login.html", form=form, error=error, no_admin=no_admin), status


@bp.post("/logout")
@access(VIEWER)
def logout():
    desk = current_desk()
    with desk.sessions.begin() as db:
        users.log_out(db, current_user.id, desk.now(), ip=request.remote_addr)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions["credentials"] = Credentials()
    login_manager.session_protection = "basic"
    app.before_request(guard)
    app.register_blueprint(bp)
