"""Pages of a new import: campaigns, upload, map columns (then the plan starts).

Every POST goes through :func:`post`, which refuses a request without the session's CSRF
token before the handler sees it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import LeadsyncError
from ..models import INPUT_FIELDS
from .flows import campaign_list, import_settings, inspect_import, make_plan
from .imports import (
    MAX_UPLOAD_FILES,
    UPLOAD_SUFFIXES,
    Import,
    ImportOptions,
    describe_options,
    save_upload,
)
from .mapping import (
    NOT_USED,
    check_name,
    load_mapping,
    mapping_from_choices,
    mapping_names,
    save_mapping,
    save_to_config,
)
from .pages import console_of, post, render
from .tasks import Task

MODES = ("add", "upsert", "mirror")
TABS = ("plan", "rejected", "duplicates")
_REGION = re.compile(r"^[A-Za-z]{2}$")
_CHOICE = re.compile(r"^col-(\d+)-(\d+)$")
#: What the reviewer must type to lift the mass-delete guard (an explicit, recorded choice).
OVERRIDE_WORD = "allow-mass-delete"


def import_of(request: Request) -> Import:
    imp = console_of(request).store.get(request.path_params["iid"])
    if imp is None:
        raise HTTPException(
            404, "no such import (it may have been discarded, or the console restarted)"
        )
    return imp


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- campaigns and new import ---------------------------------------------------------------
async def home(request: Request) -> Response:
    return see_other("/campaigns")


async def _campaigns(request: Request) -> tuple[list[Any], str | None]:
    """The live campaigns, or none and the reason the API gave."""
    try:
        return await run_in_threadpool(campaign_list, console_of(request).settings), None
    except LeadsyncError as err:
        return [], str(err)


async def campaigns_page(request: Request) -> Response:
    campaigns, error = await _campaigns(request)
    statuses = sorted({s for c in campaigns for s in c.leads_by_status})
    return render(
        request,
        "campaigns.html",
        nav="campaigns",
        campaigns=campaigns,
        statuses=statuses,
        error=error,
    )


async def new_import(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    console = console_of(request)
    campaigns, api_error = await _campaigns(request)
    return render(
        request,
        "new_import.html",
        status_code=status,
        nav="new",
        campaigns=campaigns,
        api_error=api_error,
        error=error,
        modes=MODES,
        default_mode=console.settings.sync.mode,
        default_region=console.settings.sync.region,
        chosen_campaign=request.query_params.get("campaign", ""),
        mappings=mapping_names(console.mappings_dir),
        suffixes=", ".join(UPLOAD_SUFFIXES),
        max_files=MAX_UPLOAD_FILES,
        limit_mib=console.upload_limit // 2**20,
        imports=sorted(console.store, key=lambda i: i.created, reverse=True)[:10],
    )


def _options(form: FormData) -> ImportOptions:
    mode = str(form.get("mode") or "upsert")
    if mode not in MODES:
        raise LeadsyncError(f"unknown mode {mode!r}; choose add, upsert or mirror")
    region = str(form.get("region") or "").strip().upper() or None
    if region is not None and not _REGION.match(region):
        raise LeadsyncError(f"region {region!r} is not a two-letter country code (e.g. US, GB)")
    header = str(form.get("header_row") or "").strip()
    if header and (not header.isdigit() or int(header) < 1):
        raise LeadsyncError(f"header row {header!r} is not a row number (1, 2, …)")
    mapping = str(form.get("mapping") or "").strip() or None
    return ImportOptions(
        campaign=str(form.get("campaign") or "").strip() or None,
        mode=mode,
        region=region,
        sheet=str(form.get("sheet") or "").strip() or None,
        header_row=int(header) if header else None,
        mapping_name=check_name(mapping) if mapping else None,
    )


async def upload(request: Request, form: FormData) -> Response:
    console = console_of(request)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    try:
        options = _options(form)
    except LeadsyncError as err:
        return await new_import(request, error=str(err), status=400)
    if not files:
        return await new_import(request, error="choose at least one file to upload", status=400)
    imp = console.store.create(options)
    imp.columns = dict(console.settings.columns)
    try:
        if options.mapping_name:
            imp.columns.update(load_mapping(console.mappings_dir, options.mapping_name))
        for f in files:
            await run_in_threadpool(
                save_upload, imp, f.filename, f.file, limit=console.upload_limit
            )
        settings = import_settings(console.settings, imp)
    except LeadsyncError as err:
        console.store.discard(imp.id)
        return await new_import(request, error=str(err), status=400)
    imp.base_columns = dict(imp.columns)
    await run_in_threadpool(inspect_import, imp, settings)
    return see_other(f"/imports/{imp.id}/map")


# --- map columns ----------------------------------------------------------------------------
def _choices_of(form: FormData) -> dict[tuple[int, int], str]:
    choices = {}
    for key, value in form.multi_items():
        m = _CHOICE.match(key)
        if m and isinstance(value, str):
            choices[(int(m[1]), int(m[2]))] = value
    return choices


async def map_page(
    request: Request,
    *,
    problems: list[str] | None = None,
    choices: dict[tuple[int, int], str] | None = None,
    status: int = 200,
) -> Response:
    console = console_of(request)
    imp = import_of(request)
    if imp.busy:
        return see_other(f"/imports/{imp.id}")
    chosen = choices or {}
    files = []
    for k, p in enumerate(imp.previews):
        cols = [(c, chosen.get((k, c.index), c.field or NOT_USED)) for c in p.columns]
        files.append(
            {"k": k, "preview": p, "cols": cols, "phone": any(v == "number" for _, v in cols)}
        )
    return render(
        request,
        "map.html",
        status_code=status,
        nav="new",
        imp=imp,
        files=files,
        fields=INPUT_FIELDS,
        problems=problems or [],
        options=describe_options(imp.options),
        config_path=console.settings.config_path,
        names=[Path(u.name).name for u in imp.uploads],
    )


async def map_post(request: Request, form: FormData) -> Response:
    console = console_of(request)
    imp = import_of(request)
    if imp.busy:
        return see_other(f"/imports/{imp.id}")
    if imp.inspect_error or not imp.previews:
        return await map_page(request, problems=[imp.inspect_error or "nothing to map"], status=400)
    choices = _choices_of(form)
    base = imp.base_columns
    columns, problems = mapping_from_choices(imp.previews, choices, base)
    if problems:
        return await map_page(request, problems=problems, choices=choices, status=400)
    notes = []
    try:
        name = str(form.get("save_name") or "").strip()
        if form.get("save_named") and name:
            await run_in_threadpool(save_mapping, console.mappings_dir, name, columns)
            notes.append(f"mapping saved as {name!r}")
        config = console.settings.config_path
        if form.get("save_config") and config is not None:
            await run_in_threadpool(save_to_config, Path(config), columns)
            notes.append(f"mapping saved into {config}")
    except LeadsyncError as err:
        return await map_page(request, problems=[str(err)], choices=choices, status=400)
    imp.columns = columns
    imp.notes = notes
    start_plan(request, imp, allow_mass_delete=False)
    return see_other(f"/imports/{imp.id}")


def start_plan(request: Request, imp: Import, *, allow_mass_delete: bool) -> None:
    console = console_of(request)

    def work(task: Task) -> None:
        plan = make_plan(task, imp, console.settings, allow_mass_delete=allow_mass_delete)
        imp.plans.append(plan)

    with imp.lock:
        if imp.busy:
            return
        imp.task = Task("plan").start(work)


ROUTES = [
    Route("/", home),
    Route("/campaigns", campaigns_page),
    Route("/imports/new", new_import),
    Route("/imports", post(upload, max_files=MAX_UPLOAD_FILES), methods=["POST"]),
    Route("/imports/{iid}/map", map_page),
    Route("/imports/{iid}/map", post(map_post), methods=["POST"]),
]
