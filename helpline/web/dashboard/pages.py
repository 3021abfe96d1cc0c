"""The staff dashboard: sign in, the queues, a case, the supervisor's view and the audit trail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from wtforms.fields.choices import SelectChoice

from ... import phones
from ... import staff as staff_pkg
from ...staff import audit, calls, queue, reports, timeline
from ...staff.auth import LoginRefused, authenticate, csrf, record_logout, role_required
from ...staff.chart import Series, time_to_callback_svg
from ...staff.queue import QueueError, QueueFilter
from ...staff.settings import ROLE_LABELS, TIERS, tier, tier_name
from .forms import (ActionForm, AttemptForm, AuditFilterForm, LoginForm, MoveForm, NoteForm, OutcomeForm,
                    ReassignForm)

bp = Blueprint("dashboard", __name__, url_prefix="/staff")

PUBLIC_ENDPOINTS = {"dashboard.login"}
FRAGMENT_ENDPOINTS = {"dashboard.queue_rows"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
CHART_TIERS = [(p, code) for p, code in zip(TIERS, ("D1, crisis", "D2", "D3", "D4", "D5", "General"))]


def _now() -> datetime:
    return current_app.extensions["helpline"].now()


@bp.before_request
def signed_in_and_csrf():
    """Every page but sign-in needs a signed-in user; every POST needs the form's CSRF token."""
    if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if request.endpoint in FRAGMENT_ENDPOINTS:
        abort(401)  # the page's script reloads, which leads to sign-in
    return current_app.login_manager.unauthorized()


@bp.after_request
def security_headers(response: Response) -> Response:
    """Health data: no inline script, no framing, no caching, no referrer."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    return render_template("staff/error.html", message="The form expired or was not sent from this site. "
                           "Go back, reload the page and try again."), 400


@bp.app_template_filter("staff_local")
def local_time(moment: datetime | None, fmt: str = "%a %d %b %H:%M") -> str:
    if moment is None:
        return ""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return moment.replace(tzinfo=timezone.utc).astimezone(zone).strftime(fmt)


@bp.app_template_filter("staff_iso")
def iso_utc(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


@bp.app_template_filter("staff_span")
def span(delta: timedelta | None) -> str:
    """A waiting time people read at a glance: "3 d 2 h", "1 h 05 min", "12 min"."""
    if delta is None:
        return ""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


@bp.app_template_filter("staff_tier")
def item_tier(item) -> int:
    return tier(item.queue, item.disposition, item.priority)


@bp.app_template_filter("staff_tier_name")
def item_tier_name(item) -> str:
    return tier_name(item.queue, item.disposition, item.priority)


@bp.app_template_filter("staff_masked")
def masked(number: str | None) -> str:
    return phones.masked(number)


@bp.app_template_filter("staff_reason")
def reason(rule: str) -> str:
    """A rule id as words: "d2_saddle_numbness" reads "D2 saddle numbness"."""
    head, _, tail = rule.partition("_")
    if len(head) == 2 and head[0] == "d" and head[1].isdigit():
        return f"{head.upper()} {tail.replace('_', ' ')}"
    return rule.replace("_", " ")


@bp.context_processor
def staff_globals() -> dict[str, Any]:
    return {"role_labels": ROLE_LABELS, "tier_labels": TIERS, "staff_settings": staff_pkg.settings(),
            "action_form": ActionForm()}


def _safe_next(target: str | None) -> str:
    """Only ever send a signed-in user on to one of our own dashboard pages."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/staff/"):
            return target
    return url_for("dashboard.queue_page")


# --- signing in ----------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in. Failures slow down and then lock the account."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            staff = authenticate(form.email.data, form.password.data, _now())
        except LoginRefused as refused:
            flash(str(refused), "error")
            return render_template("staff/login.html", form=form), 401
        session.clear()
        session.permanent = True
        login_user(staff)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
def logout():
    record_logout(current_user._get_current_object(), _now())
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("dashboard.login"))


# --- the queue -----------------------------------------------------------------------

def _queue_filter() -> QueueFilter:
    args = request.args
    tier = args.get("tier", "")
    return QueueFilter(
        queue=args.get("queue") or None,
        mine=args.get("mine") == "1",
        unclaimed=args.get("unclaimed") == "1",
        overdue=args.get("overdue") == "1",
        tier=int(tier) if tier.isdigit() else None,
    )


@bp.get("/")
def queue_page():
    """The queues this member of staff works, refreshed in place by static/staff/queue.js."""
    flt, now = _queue_filter(), _now()
    page = queue.queue_page(staff_pkg.settings(), current_user, flt, now)
    return render_template("staff/queue.html", page=page, rows=page.rows, flt=flt, now=now, tiers=TIERS,
                           queues=staff_pkg.settings().queues_for(current_user.role))


@bp.get("/queue/rows")
def queue_rows():
    """The queue's rows alone, for the page to poll."""
    flt, now = _queue_filter(), _now()
    page = queue.queue_page(staff_pkg.settings(), current_user, flt, now)
    response = Response(render_template("staff/_rows.html", page=page, rows=page.rows, now=now))
    response.headers["X-Server-Now"] = iso_utc(now)
    response.headers["X-Queue-Count"] = str(page.total)
    return response


def _back_to_queue():
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/cases/<int:item_id>/claim")
def claim(item_id: int):
    try:
        queue.claim(staff_pkg.settings(), current_user, item_id, _now())
    except QueueError as exc:
        flash(str(exc), "error")
        return _back_to_queue()
    flash("You hold this case now.", "info")
    return redirect(url_for("dashboard.case_page", item_id=item_id))


@bp.post("/cases/<int:item_id>/release")
def release(item_id: int):
    try:
        queue.release(staff_pkg.settings(), current_user, item_id, _now())
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.case_page", item_id=item_id))
    flash("Released: the item is back on the queue.", "info")
    return redirect(url_for("dashboard.queue_page"))


def _case_form(item_id: int, form, invalid: str, act: Callable[[datetime], Any], done: Callable[[], str],
               then: str | None = None):
    """Validate a case form, run its use case and say how it went; back to the case unless it is done."""
    case_url = url_for("dashboard.case_page", item_id=item_id)
    if not form.validate_on_submit():
        flash(invalid, "error")
        return redirect(case_url)
    try:
        act(_now())
    except QueueError as exc:
        flash(str(exc), "error")
        return redirect(case_url)
    flash(done(), "info")
    return redirect(then or case_url)


@bp.post("/cases/<int:item_id>/reassign")
@role_required("supervisor")
def reassign(item_id: int):
    form = ReassignForm()
    form.staff_id.choices = [SelectChoice(s.id, s.name) for s in audit.all_staff()]
    return _case_form(item_id, form, "Choose who to give it to.", lambda now: queue.reassign(
        staff_pkg.settings(), current_user, item_id, form.staff_id.data, now), lambda: "Reassigned.")


@bp.post("/cases/<int:item_id>/move")
@role_required("supervisor")
def move(item_id: int):
    settings = staff_pkg.settings()
    form = MoveForm()
    form.queue.choices = [SelectChoice(name) for name in settings.queues]
    return _case_form(item_id, form, "Choose a queue.", lambda now: queue.move(
        settings, current_user, item_id, form.queue.data, now),
        lambda: f"Moved to {settings.queues[form.queue.data].label}.")


# --- a case --------------------------------------------------------------------------

@bp.get("/cases/<int:item_id>")
def case_page(item_id: int):
    """The case and the person's timeline; the look is audited."""
    settings = staff_pkg.settings()
    try:
        case = timeline.open_case(settings, current_user, item_id, _now())
    except queue.NotFound:
        abort(404)
    except queue.NotAllowed:
        abort(403)
    reassign_form = ReassignForm()
    move_form = MoveForm()
    if current_user.role == queue.SUPERVISOR:
        reassign_form.staff_id.choices = [SelectChoice(s.id, f"{s.name} ({ROLE_LABELS[s.role]})")
                                          for s in queue.staff_who_may_work(settings, case.item.queue)]
        move_form.queue.choices = [SelectChoice(q.name, q.label) for q in settings.queues.values()]
        move_form.queue.data = case.item.queue
    return render_template(
        "staff/case.html", case=case, now=_now(), attempt_form=AttemptForm(), outcome_form=OutcomeForm(),
        note_form=NoteForm(), reassign_form=reassign_form, move_form=move_form,
        attempt_labels=queue.ATTEMPT_RESULTS, outcome_labels={k: v[0] for k, v in queue.OUTCOMES.items()},
    )


def _public_url(endpoint: str, **values: Any) -> str:
    """An address Twilio can reach, built like the one signature checks rebuild (PUBLIC_BASE_URL)."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


@bp.post("/cases/<int:item_id>/call")
def call_back(item_id: int):
    """Ring my phone, then the patient, from the help line's number."""
    def urls(attempt_id: int) -> tuple[str, str]:
        return (_public_url("dashboard_calls.connect", attempt_id=attempt_id),
                _public_url("dashboard_calls.staff_leg", attempt_id=attempt_id))

    try:
        calls.call_back(staff_pkg.settings(), staff_pkg.dialer(), current_user, item_id,
                        current_app.config["HELPLINE_NUMBER"], urls, _now())
    except QueueError as exc:
        flash(str(exc), "error")
    else:
        flash("Calling your phone now. When you answer, you will be connected to the patient.", "info")
    return redirect(url_for("dashboard.case_page", item_id=item_id))


@bp.post("/cases/<int:item_id>/attempts")
def record_attempt(item_id: int):
    form = AttemptForm()

    def act(now: datetime) -> None:
        seconds = form.duration_minutes.data * 60 if form.duration_minutes.data is not None else None
        queue.record_attempt(staff_pkg.settings(), current_user, item_id, form.result.data, seconds, now)

    return _case_form(item_id, form, "Choose what happened on the call.", act, lambda: "Attempt recorded.")


@bp.post("/cases/<int:item_id>/outcome")
def record_outcome(item_id: int):
    form = OutcomeForm()

    return _case_form(item_id, form, "Choose an outcome from the list.", lambda now: queue.record_outcome(
        staff_pkg.settings(), current_user, item_id, form.outcome.data, form.note.data, now),
        lambda: f"Outcome recorded: {queue.OUTCOMES[form.outcome.data][0]}.", then=url_for("dashboard.queue_page"))


@bp.post("/cases/<int:item_id>/notes")
def add_note(item_id: int):
    form = NoteForm()
    return _case_form(item_id, form, "Write something in the note.", lambda now: queue.add_note(
        staff_pkg.settings(), current_user, item_id, form.body.data, now), lambda: "Note added.")


# --- supervisors and admins ----------------------------------------------------------

@bp.get("/supervisor")
@role_required("supervisor")
def supervisor_page():
    """Counts per tier, the oldest waiting, today's SLA breaches, unreachable people, the chart."""
    overview = reports.overview(staff_pkg.settings(), _now())
    return render_template("staff/supervisor.html", overview=overview, now=_now())


@bp.get("/supervisor/time-to-callback.svg")
@role_required("supervisor")
def time_to_callback_chart():
    now = _now()
    series = []
    for days in (7, 30):
        stats = reports.time_to_callback(now, days)
        series.append(Series(f"last {days} days", {tier: s.median_minutes for tier, s in stats.items()}))
    svg = time_to_callback_svg(CHART_TIERS, series, "Time from joining the queue to the first call (median)")
    return Response(svg, mimetype="image/svg+xml")


@bp.get("/audit")
@role_required("admin")
def audit_page():
    """The audit trail, by member of staff and by patient."""
    form = AuditFilterForm(request.args)
    everyone = audit.all_staff()
    form.staff_id.choices = [SelectChoice(0, "Everyone")] + [SelectChoice(s.id, f"{s.name} ({s.email})")
                                                             for s in everyone]
    phone_raw = (form.phone.data or "").strip()
    phone = phones.to_e164(phone_raw) if phone_raw else None
    if phone_raw and phone is None:
        flash("That is not a phone number we can search for.", "error")
        events = []
    else:
        flt = audit.AuditFilter(staff_id=form.staff_id.data or None, phone=phone)
        events = audit.read_trail(current_user, flt, _now())
    return render_template("staff/audit.html", form=form, events=events, actions=audit.ACTIONS,
                           names={s.id: s.name for s in everyone})
