"""London Datastore (DataPress) client over :class:`HttpClient`.

Native DataPress endpoints first (catalogue export, ``/api/dataset/{id}``,
``/download/...``, ``/api/table/{id}``); the CKAN shim's ``package_show`` only
as a fallback when a dataset's native page is missing. Resources are always
keyed by their resource id, never by title or file name (two resources can
share a file name). Retries belong to :class:`HttpClient`, not here.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ..errors import HttpError, PayloadError, StoreError, redact_url
from .download_cache import DownloadCache, atomic_write_bytes, safe_filename
from .http import HttpClient
from .transport import DEFAULT_MAX_BYTES, CancelCheck

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.london.gov.uk"
CATALOGUE_PATHS = ("/api/v2/datasets/export.json", "/api/datasets/export.json")
TABLE_PAGE = 5000
MAX_JSON_BYTES = 64 * 1024 * 1024  # the whole catalogue is a few MB

FORMAT_EXTENSIONS = {"csv": ".csv", "geojson": ".geojson", "geopackage": ".gpkg",
                     "gpkg": ".gpkg", "json": ".json", "xlsx": ".xlsx", "xls": ".xls",
                     "zip": ".zip", "shp": ".zip", "pdf": ".pdf"}


@dataclass(frozen=True)
class Resource:
    """One file of a dataset, whichever API generation described it."""

    resource_id: str
    title: str = ""
    format: str = ""
    url: str = ""
    size: Optional[int] = None
    hash: Optional[str] = None
    modified: Optional[str] = None
    description: str = ""
    tables: Tuple[str, ...] = ()

    @property
    def version(self) -> Optional[str]:
        """What tells this edition of the file from the next one, if anything."""
        return self.hash or self.modified


@dataclass(frozen=True)
class Dataset:
    id: str
    slug: str = ""
    title: str = ""
    created: Optional[str] = None
    modified: Optional[str] = None
    licence_title: str = ""
    licence_url: str = ""
    sharing: str = "public"
    resources: Tuple[Resource, ...] = ()
    source: str = "datapress"  # or "ckan" when read through the CKAN shim

    @property
    def restricted(self) -> bool:
        return self.sharing != "public"

    def resource(self, resource_id: str) -> Resource:
        for res in self.resources:
            if res.resource_id == resource_id:
                return res
        raise PayloadError(f"The dataset '{self.id}' has no resource with id "
                           f"'{resource_id}'.")


@dataclass
class DownloadResult:
    path: Path
    dataset_id: str
    resource: Resource
    size: int
    from_cache: bool = False
    verified: bool = False  # size or hash was published and matched
    warnings: List[str] = field(default_factory=list)


# --- parsing the two field generations --------------------------------------------

def _int_or_none(value) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _str_or_none(value) -> Optional[str]:
    return str(value) if value not in (None, "") else None


def parse_resource(resource_id: str, raw: Mapping) -> Resource:
    tables = raw.get("tables") or {}
    table_ids = tuple(tables.keys()) if isinstance(tables, Mapping) else tuple(
        str(t.get("id")) for t in tables if isinstance(t, Mapping) and t.get("id"))
    return Resource(
        resource_id=str(resource_id),
        title=str(raw.get("title") or raw.get("name") or ""),
        format=str(raw.get("format") or "").strip().lower(),
        url=str(raw.get("url") or ""),
        size=_int_or_none(raw.get("size", raw.get("check_size"))),
        hash=_str_or_none(raw.get("hash") or raw.get("check_hash")),
        modified=_str_or_none(raw.get("check_timestamp") or raw.get("modified")
                              or raw.get("last_modified") or raw.get("updatedAt")),
        description=str(raw.get("description") or ""),
        tables=table_ids,
    )


def _sharing(value) -> str:
    if isinstance(value, Mapping):
        kind = value.get("type") or value.get("level")
        if kind:
            return str(kind)
        return "restricted" if (value.get("readusers") or value.get("readteams")) else "public"
    return str(value or "public")


def parse_dataset(obj) -> Dataset:
    """A DataPress dataset object (``/api/dataset/{id}`` or a catalogue item)."""
    if not isinstance(obj, Mapping) or not obj.get("id"):
        raise PayloadError("The Datastore answer is not a dataset description (no 'id').")
    raw_resources = obj.get("resources") or {}
    items: Iterable[Tuple[str, Mapping]]
    if isinstance(raw_resources, Mapping):
        items = [(rid, r) for rid, r in raw_resources.items() if isinstance(r, Mapping)]
    elif isinstance(raw_resources, list):
        items = [(str(r.get("id")), r) for r in raw_resources
                 if isinstance(r, Mapping) and r.get("id")]
    else:
        items = []
    def order(pair):
        index, (_, res) = pair
        rank = _int_or_none(res.get("order"))
        return (rank if rank is not None else 1 << 30, index)

    ordered = sorted(enumerate(items), key=order)
    licence = obj.get("licence") or {}
    if not isinstance(licence, Mapping):
        licence = {"title": str(licence)}
    return Dataset(
        id=str(obj["id"]), slug=str(obj.get("slug") or ""), title=str(obj.get("title") or ""),
        created=_str_or_none(obj.get("createdAt")), modified=_str_or_none(obj.get("updatedAt")),
        licence_title=str(licence.get("title") or ""), licence_url=str(licence.get("url") or ""),
        sharing=_sharing(obj.get("sharing")),
        resources=tuple(parse_resource(rid, r) for _, (rid, r) in ordered),
    )


def parse_ckan_package(obj, dataset_id: str = "") -> Dataset:
    """``package_show``'s ``{success, result}`` envelope."""
    if not isinstance(obj, Mapping) or not obj.get("success") or not isinstance(
            obj.get("result"), Mapping):
        raise PayloadError(f"The Datastore's CKAN answer for '{dataset_id}' is not a "
                           "successful package description.")
    res = obj["result"]
    resources = []
    for i, r in enumerate(res.get("resources") or []):
        if not isinstance(r, Mapping):
            continue
        rid = str(r.get("id") or f"ckan-{i}")
        resources.append(Resource(
            resource_id=rid, title=str(r.get("name") or r.get("title") or ""),
            format=str(r.get("format") or "").strip().lower(), url=str(r.get("url") or ""),
            size=_int_or_none(r.get("size")), hash=_str_or_none(r.get("hash")),
            modified=_str_or_none(r.get("last_modified") or r.get("metadata_modified")),
            description=str(r.get("description") or "")))
    return Dataset(
        id=str(res.get("id") or dataset_id), slug=str(res.get("name") or ""),
        title=str(res.get("title") or ""), created=_str_or_none(res.get("metadata_created")),
        modified=_str_or_none(res.get("metadata_modified")),
        licence_title=str(res.get("license_title") or ""), resources=tuple(resources),
        source="ckan")


def check_integrity(data: bytes, resource: Resource) -> Tuple[bool, List[str]]:
    """(verified, warnings) for downloaded bytes against the published size and hash.

    Hashes that look like S3 multipart ETags (``…-N``) cannot be checked from the
    bytes alone and are skipped.
    """
    warnings, verified = [], False
    name = resource.title or resource.resource_id
    if resource.size is not None:
        if resource.size != len(data):
            warnings.append(f"'{name}': the Datastore lists {resource.size:,} bytes but "
                            f"{len(data):,} arrived; the file may have changed since it "
                            "was catalogued, or be incomplete.")
        else:
            verified = True
    digest = (resource.hash or "").strip().lower()
    algo = None
    if ":" in digest:
        algo, digest = digest.split(":", 1)
    if algo is None:
        algo = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(digest))
    if algo in ("md5", "sha1", "sha256") and all(c in "0123456789abcdef" for c in digest):
        if hashlib.new(algo, data).hexdigest() != digest:
            warnings.append(f"'{name}': the file's {algo.upper()} checksum does not match "
                            "the one the Datastore publishes.")
        else:
            verified = True
    return verified and not warnings, warnings


# --- the client ------------------------------------------------------------------

class DatastoreClient:
    """Reads the London Datastore. ``api_key`` only matters for restricted datasets;
    it is sent to the Datastore's own host only and never logged or shown."""

    def __init__(self, http: HttpClient, base_url: str = DEFAULT_BASE_URL, *,
                 api_key: Optional[str] = None, api_key_header: str = "Authorization",
                 cache: Optional[DownloadCache] = None,
                 max_download_bytes: int = DEFAULT_MAX_BYTES,
                 max_json_bytes: int = MAX_JSON_BYTES):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self._api_key_header = api_key_header
        self.cache = cache
        self.max_download_bytes = max_download_bytes
        self.max_json_bytes = max_json_bytes

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"<DatastoreClient {self.base_url} api_key={key}>"

    # plumbing
    def _headers_for(self, url: str) -> dict:
        if not self._api_key:
            return {}
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc):
            return {}  # never hand the key to a third-party file host
        return {self._api_key_header: self._api_key}

    def _get(self, url: str, is_cancelled: Optional[CancelCheck],
             max_bytes: int = DEFAULT_MAX_BYTES):
        try:
            return self.http.get(url, headers=self._headers_for(url), max_bytes=max_bytes,
                                 is_cancelled=is_cancelled)
        except HttpError as exc:
            if self._api_key and self._api_key in exc.body_excerpt:  # a server echoing it
                exc.body_excerpt = exc.body_excerpt.replace(self._api_key, "***")
            raise

    def _get_json(self, url: str, is_cancelled: Optional[CancelCheck]):
        return self._get(url, is_cancelled, self.max_json_bytes).json()

    # catalogue and datasets
    def catalogue(self, is_cancelled: Optional[CancelCheck] = None) -> List[dict]:
        """Every dataset as the raw catalogue dicts (filter them client-side)."""
        first_error: Optional[HttpError] = None
        for path in CATALOGUE_PATHS:
            try:
                data = self._get_json(self.base_url + path, is_cancelled)
            except HttpError as exc:
                if exc.status != 404:
                    raise
                first_error = first_error or exc
                log.info("Catalogue not at %s, trying the older address", path)
                continue
            if isinstance(data, Mapping) and isinstance(data.get("datasets"), list):
                data = data["datasets"]
            if not isinstance(data, list):
                raise PayloadError(f"The Datastore catalogue at {self.base_url}{path} is not "
                                   "a list of datasets.")
            return [d for d in data if isinstance(d, Mapping)]
        assert first_error is not None
        raise first_error

    def list_datasets(self, is_cancelled: Optional[CancelCheck] = None) -> List[Dataset]:
        out = []
        for item in self.catalogue(is_cancelled):
            try:
                out.append(parse_dataset(item))
            except PayloadError:
                continue
        return out

    def get_dataset(self, dataset_id: str,
                    is_cancelled: Optional[CancelCheck] = None) -> Dataset:
        """One dataset, by its short id (e.g. ``2lzpg``); CKAN shim if the native page 404s."""
        dataset_id = _check_id(dataset_id, "dataset")
        url = f"{self.base_url}/api/dataset/{quote(dataset_id, safe='')}"
        try:
            return parse_dataset(self._get_json(url, is_cancelled))
        except (HttpError, PayloadError) as exc:
            if isinstance(exc, HttpError) and exc.status != 404:
                raise
            log.info("Dataset %s not readable from the native API (%s); trying CKAN",
                     dataset_id, type(exc).__name__)
            try:
                return self.ckan_package_show(dataset_id, is_cancelled)
            except (HttpError, PayloadError):
                raise exc from None

    def ckan_package_show(self, dataset_id: str,
                          is_cancelled: Optional[CancelCheck] = None) -> Dataset:
        dataset_id = _check_id(dataset_id, "dataset")
        url = f"{self.base_url}/api/3/action/package_show?{urlencode({'id': dataset_id})}"
        return parse_ckan_package(self._get_json(url, is_cancelled), dataset_id)

    # files
    def resource_url(self, dataset_id: str, resource: Resource) -> str:
        url = resource.url.strip()
        if url:
            absolute = urljoin(self.base_url + "/", url)
            if urlsplit(absolute).scheme not in ("http", "https"):
                raise PayloadError(f"The resource '{resource.title or resource.resource_id}' "
                                   "points to an address the plugin does not download from "
                                   f"({urlsplit(absolute).scheme or 'no scheme'}).")
            return absolute
        name = quote(self._basename(resource), safe="")
        return (f"{self.base_url}/download/{quote(dataset_id, safe='')}/"
                f"{quote(resource.resource_id, safe='')}/{name}")

    @staticmethod
    def _basename(resource: Resource) -> str:
        path_name = urlsplit(resource.url).path.rsplit("/", 1)[-1] if resource.url else ""
        if path_name:
            return safe_filename(path_name)
        ext = FORMAT_EXTENSIONS.get(resource.format, "")
        stem = safe_filename(resource.title or resource.resource_id, default="resource")
        return stem if stem.lower().endswith(ext) else stem + ext

    def download(self, dataset: Union[Dataset, str], resource: Union[Resource, str],
                 dest_dir, is_cancelled: Optional[CancelCheck] = None) -> DownloadResult:
        """Fetch one resource into ``dest_dir/<resource id>/<file name>``.

        An unchanged resource already in the cache is copied from there, not
        downloaded. Size/hash mismatches become ``warnings``, not errors.
        """
        if isinstance(dataset, str):
            dataset = self.get_dataset(dataset, is_cancelled)
        if isinstance(resource, str):
            resource = dataset.resource(resource)
        version = resource.version or dataset.modified
        filename = self._basename(resource)
        target_dir = Path(dest_dir) / safe_filename(resource.resource_id, default="resource")
        target = target_dir / filename

        cached = self.cache.get(dataset.id, resource.resource_id, version) if self.cache else None
        if cached is not None:
            target_dir.mkdir(parents=True, exist_ok=True)
            if cached.resolve() != target.resolve():
                tmp = target.with_name(f".{filename}.part")
                shutil.copyfile(cached, tmp)
                tmp.replace(target)
            verified, warnings = check_integrity(target.read_bytes(), resource)
            return DownloadResult(target, dataset.id, resource, target.stat().st_size,
                                  from_cache=True, verified=verified, warnings=warnings)

        url = self.resource_url(dataset.id, resource)
        log.info("Downloading %s", redact_url(url))
        data = self._get(url, is_cancelled, self.max_download_bytes).body
        verified, warnings = check_integrity(data, resource)
        for warning in warnings:
            log.warning(warning)
        target_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        if self.cache is not None and not warnings:
            try:
                self.cache.put(dataset.id, resource.resource_id, version, data, filename)
            except StoreError as exc:  # the download itself succeeded
                log.warning("%s", exc)
        return DownloadResult(target, dataset.id, resource, len(data), verified=verified,
                              warnings=warnings)

    # tables
    def query_table(self, table_id: str, limit: int = TABLE_PAGE,
                    max_rows: Optional[int] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> List[dict]:
        """All rows of a tabular resource, page by page until a short page."""
        table_id = _check_id(table_id, "table")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        rows: List[dict] = []
        offset, previous = 0, None
        base = f"{self.base_url}/api/table/{quote(table_id, safe='')}"
        while True:
            url = f"{base}?{urlencode({'$limit': limit, '$offset': offset})}"
            payload = self._get_json(url, is_cancelled)
            page = payload.get("rows") if isinstance(payload, Mapping) else None
            if not isinstance(page, list):
                raise PayloadError(f"The table {table_id} answered without a 'rows' list "
                                   f"(offset {offset}).")
            if page and page == previous:
                raise PayloadError(f"The table {table_id} sent the same rows again at offset "
                                   f"{offset}: the server seems to ignore paging, so the "
                                   "download was stopped.")
            rows.extend(page)
            if max_rows is not None and len(rows) >= max_rows:
                return rows[:max_rows]
            if len(page) < limit:
                return rows
            offset += len(page)
            previous = page


def _check_id(value: str, what: str) -> str:
    value = str(value or "").strip()
    if not value or value in (".", "..") or "/" in value or "\\" in value:
        raise ValueError(f"'{value}' is not a valid {what} id")
    return value
