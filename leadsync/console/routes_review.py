"""Pages of an import once planned: progress, review, approve, result (routes_imports has the
upload and the mapping). Every POST goes through :func:`~leadsync.console.pages.post`."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..models import Count, RowOutcome
from .flows import apply_reviewed
from .history import run_link
from .imports import describe_options
from .pages import (
    console_of,
    error_page,
    int_param,
    post,
    render,
    rows_page,
    search_text,
    task_events,
)
from .review import ACTIONS, ISSUE_COLUMNS, PLAN_COLUMNS, page_of
from .routes_imports import OVERRIDE_WORD, TABS, import_of, see_other, start_plan
from .tasks import Task

#: The totals the result page lists, in order.
RESULT_KEYS: tuple[Count, ...] = (
    Count.PLANNED_ADD,
    Count.PLANNED_STATUS,
    Count.PLANNED_DELETE,
    Count.ADDED,
    Count.STATUS_SET,
    Count.DELETED,
    Count.FAILED,
    Count.RESIDUAL,
)


# --- progress, review, approve, result ------------------------------------------------------
async def import_page(request: Request) -> Response:
    imp = import_of(request)
    step = imp.step
    if step in ("planning", "applying"):
        assert imp.task is not None
        return render(
            request,
            "progress.html",
            nav="new",
            title="Making the plan" if step == "planning" else "Applying the plan",
            task=imp.task.snapshot(),
            events=f"/imports/{imp.id}/events",
            next_url=f"/imports/{imp.id}",
        )
    if imp.task is not None and imp.task.state == "error":
        return render(request, "task_error.html", nav="new", imp=imp, error=imp.task.error)
    return see_other(f"/imports/{imp.id}/{step}")  # map, review or result


async def events(request: Request) -> Response:
    imp = import_of(request)
    if imp.task is None:
        return error_page(request, 404, "nothing is running for this import")
    return await task_events(request, imp.task)


async def review_page(request: Request) -> Response:
    console = console_of(request)
    imp = import_of(request)
    plan = imp.plan
    if plan is None:
        return see_other(f"/imports/{imp.id}")
    q = request.query_params
    tab = q.get("tab", "plan") if q.get("tab") in TABS else "plan"
    action = q.get("action") if q.get("action") in ACTIONS else None
    query = search_text(request)
    columns = PLAN_COLUMNS if tab == "plan" else ISSUE_COLUMNS
    page = page_of(
        plan.review.table(tab),
        page=int_param(q.get("page")),
        action=action,
        query=query,
        columns=columns,
    )
    folder = plan.report.folder
    applied = any(
        a.plan_number == plan.number and a.report is not None and a.report.refusal is None
        for a in imp.applies
    )
    return render(
        request,
        "review.html",
        nav="new",
        imp=imp,
        plan=plan,
        review=plan.review,
        tab=tab,
        action=action,
        query=query,
        page=page,
        columns=columns,
        actions=ACTIONS,
        options=describe_options(imp.options),
        run_link=run_link(console.roots, folder),
        override_word=OVERRIDE_WORD,
        applied=applied,
        busy=imp.busy,
        notes=imp.notes,
    )


async def replan(request: Request, form: FormData) -> Response:
    imp = import_of(request)
    if imp.files_removed:
        return error_page(
            request,
            409,
            "this import's files were removed after it was applied; start a new import",
        )
    allow = str(form.get("override") or "").strip() == OVERRIDE_WORD
    if form.get("override") and not allow:
        return error_page(
            request, 400, f"to lift the mass-delete guard, type {OVERRIDE_WORD} in the box"
        )
    start_plan(request, imp, allow_mass_delete=allow)
    return see_other(f"/imports/{imp.id}")


async def approve(request: Request, form: FormData) -> Response:
    console = console_of(request)
    imp = import_of(request)
    plan = imp.plan
    if plan is None or plan.saved is None:
        return error_page(request, 409, "there is no saved plan to approve (a guard refused it)")
    if str(form.get("plan_id") or "") != plan.plan_id:
        return error_page(
            request,
            409,
            "the plan you approved is not this import's current plan (it was re-planned "
            "meanwhile); review the current plan",
        )

    def work(task: Task) -> None:
        imp.applies.append(apply_reviewed(task, imp, console.settings, plan))

    with imp.lock:
        if imp.busy:
            return error_page(request, 409, "this import is already being planned or applied")
        imp.task = Task("apply").start(work)
    return see_other(f"/imports/{imp.id}")


async def result_page(request: Request) -> Response:
    console = console_of(request)
    imp = import_of(request)
    last = imp.last_apply
    if last is None:
        return see_other(f"/imports/{imp.id}")
    report = last.report
    q = request.query_params
    outcome = q.get("outcome") or (
        RowOutcome.ADDED if report is not None and report.refusal is None else None
    )
    rows = report.folder / "rows.csv" if report is not None and report.folder else None
    page, counts = (
        await rows_page(request, rows, outcome) if rows and rows.is_file() else (None, {})
    )
    return render(
        request,
        "result.html",
        nav="new",
        imp=imp,
        last=last,
        report=report,
        summary=report.summary_dict() if report is not None else None,
        run_link=run_link(console.roots, report.folder if report else None),
        plan_link=run_link(console.roots, imp.plan.report.folder if imp.plan else None),
        rows_page=page,
        counts=counts,
        outcome=outcome,
        query=q.get("q") or "",
        busy=imp.busy,
        result_keys=RESULT_KEYS,
    )


async def plan_file(request: Request) -> Response:
    imp = import_of(request)
    plan = imp.plan
    if plan is None or plan.saved is None or not plan.path.is_file():
        return error_page(request, 404, "no saved plan")
    return FileResponse(plan.path, media_type="application/json", filename=f"plan-{imp.id}.json")


async def discard(request: Request, form: FormData) -> Response:
    imp = import_of(request)
    if imp.busy:
        return error_page(request, 409, "this import is being planned or applied; wait for it")
    console_of(request).store.discard(imp.id)
    return see_other("/imports/new")


ROUTES = [
    Route("/imports/{iid}", import_page),
    Route("/imports/{iid}/events", events),
    Route("/imports/{iid}/review", review_page),
    Route("/imports/{iid}/replan", post(replan), methods=["POST"]),
    Route("/imports/{iid}/approve", post(approve), methods=["POST"]),
    Route("/imports/{iid}/result", result_page),
    Route("/imports/{iid}/plan.json", plan_file),
    Route("/imports/{iid}/discard", post(discard), methods=["POST"]),
]
