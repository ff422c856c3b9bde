"""What reconciliation found (:class:`Reconciliation`), and how usage, status and the
names people type find their reconciled device."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .source_records import FEED_PREFIX, as_object, is_feed_source, pair_keys, unit_key


@dataclass
class Reconciliation:
    """What :func:`~.reconcile.reconcile` found.

    ``devices``: one row per charge point: the canonical device columns (``source``
    is the leading source), ``valid_from_utc``/``valid_to_utc`` and provenance
    (:data:`~.reconciled_devices.PROVENANCE_COLUMNS`). ``connectors``: their
    connectors (the registry's where it lists any, else the feed's). ``links``: every
    source record (registry device, OCPI EVSE, or EVSE-less Location) and the device it
    went to, with the method. ``review``: ambiguous candidates, one row per (EVSE, registry device)
    pair, for an officer to decide. ``device_map``: (source, source_device_id) ->
    device_id for records named without an EVSE.
    """

    devices: pd.DataFrame
    connectors: pd.DataFrame
    links: pd.DataFrame
    review: pd.DataFrame
    device_map: pd.DataFrame
    counts: dict = field(default_factory=dict)
    _lookup: dict = field(default_factory=dict, repr=False)
    _aliases: dict = field(default_factory=dict, repr=False)

    @property
    def is_identity(self) -> bool:
        """True when every device is one source record under its own id."""
        return not any(self.counts.get(k, 0) for k in ("reference", "proximity", "decision",
                                                        "renamed"))

    def describe(self) -> str:
        """One line for people."""
        c = self.counts
        text = (f"Reconciliation: {c.get('records', 0):,} source records gave "
                f"{len(self.devices):,} devices; matched {c.get('reference', 0):,} by "
                f"reference, {c.get('proximity', 0):,} by proximity, "
                f"{c.get('decision', 0):,} by decision; {c.get('ambiguous', 0):,} ambiguous "
                f"(for review); {c.get('feed_only', 0):,} feed-only devices")
        if c.get("renamed"):
            text += f" ({c['renamed']:,} with a source-qualified id)"
        return text + "."

    def absorbed(self) -> pd.DataFrame:
        """(source, device_id) of source devices that are no device of their own (every
        one of their EVSEs went to another device)."""
        own = self.links[self.links["method"] == "identity"]
        records = self.device_map[["source", "source_device_id"]]
        kept = pair_keys(own["source"], own["source_device_id"])
        gone = ~pair_keys(records["source"], records["source_device_id"]).isin(kept)
        return records[gone].rename(columns={"source_device_id": "device_id"}) \
            .reset_index(drop=True)

    # attaching usage and status ----------------------------------------------------

    def attach(self, source, device_id, evse_uid=None) -> np.ndarray:
        """The reconciled device id of each row of usage or status data.

        In order: the exact (source, device, EVSE) record; the exact (source,
        device); for OCPI sources, an OCPI record with that device (and EVSE) id
        in any feed; an id that is a reconciled device's own (usage returns and
        sessions naming registry ids attach directly); a source device id found
        in one source only. Anything else keeps its id.
        """
        ids = as_object(device_id)
        n = len(ids)
        sources = as_object(source) if source is not None else np.full(n, None, object)
        evses = as_object(evse_uid) if evse_uid is not None else np.full(n, None, object)
        touched = self._touched()
        if n == 0 or not touched:
            return ids.copy()
        if "unit" not in self._lookup:
            self._build_lookup()
        rows = np.flatnonzero(pd.Series(ids, dtype=object).isin(touched).to_numpy())
        out = ids.copy()
        if len(rows) == 0:
            return out
        combos = pd.DataFrame({"s": sources[rows], "d": ids[rows], "e": evses[rows]})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(combos.fillna("\x00")))
        resolved = np.array([self._resolve_one(s, d, e) for s, d, e in uniques], dtype=object)
        out[rows] = resolved[codes]
        return out

    def attach_frame(self, frame: pd.DataFrame, evse_column: str | None = None) -> pd.Series:
        """:meth:`attach` for a sessions or status frame. Sessions name their EVSE in
        OCPI connector ids (``<evse_uid>/<connector id>``); status rows in evse_uid."""
        if evse_column == "connector_id" and "connector_id" in frame:
            connector = pd.Series(as_object(frame["connector_id"]), dtype=object)
            ocpi = pd.Series(as_object(frame["source"]), dtype=object).str.startswith(
                FEED_PREFIX, na=False)
            evse = connector.where(ocpi & connector.notna(), None)
            evse = evse.str.rsplit("/", n=1).str[0].where(evse.notna(), None)
        elif evse_column:
            evse = frame[evse_column]
        else:
            evse = None
        return pd.Series(self.attach(frame["source"], frame["device_id"], evse),
                         index=frame.index, dtype=object)

    def attach_sessions(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """``sessions`` with each device_id replaced by its reconciled device (a
        categorical device_id stays categorical); rows no record concerns are untouched."""
        ids = sessions["device_id"]
        mask = ids.isin(self._touched()).to_numpy()
        if not mask.any():
            return sessions
        new = self.attach_frame(sessions[mask], "connector_id")
        out = sessions.copy()
        if isinstance(ids.dtype, pd.CategoricalDtype):
            fresh = pd.Index(pd.unique(new.to_numpy(object))).difference(ids.cat.categories)
            column = ids.cat.add_categories(list(fresh)) if len(fresh) else ids.copy()
        else:
            column = ids.astype(object).copy()
        column[mask] = new.to_numpy(object)
        out["device_id"] = column
        return out

    def _touched(self) -> set:
        """The source device ids whose rows may attach elsewhere than their own id (as
        :meth:`_build_lookup` finds them), vectorised: most stores need no lookup."""
        if "touched" not in self._lookup:
            dmap = self.device_map.drop_duplicates(["source", "source_device_id"],
                                                   keep="last")
            ids = dmap["source_device_id"].to_numpy(object)
            targets = dmap["device_id"].to_numpy(object)
            touched = set(ids[ids != targets])
            links = self.links[self.links["evse_uid"].to_numpy(object) != None]  # noqa: E711
            links = links.drop_duplicates(["source", "source_device_id", "evse_uid"],
                                          keep="last")
            unit_ids = links["source_device_id"].to_numpy(object)
            touched |= set(unit_ids[unit_ids != links["device_id"].to_numpy(object)])
            if len(ids):  # ids reaching more than one device
                d_code, d_uniq = pd.factorize(ids, use_na_sentinel=False)
                t_code, t_uniq = pd.factorize(targets, use_na_sentinel=False)
                pairs = pd.unique(d_code.astype(np.int64) * len(t_uniq) + t_code)
                many = np.bincount(pairs // len(t_uniq), minlength=len(d_uniq)) > 1
                touched |= set(np.asarray(d_uniq, dtype=object)[many])
            self._lookup["touched"] = touched
        return self._lookup["touched"]

    def _build_lookup(self) -> None:
        links, dmap = self.links, self.device_map
        unit = {(s, d, e): t for s, d, e, t in zip(links["source"], links["source_device_id"],
                                                  links["evse_uid"], links["device_id"])
                if e is not None}
        device = dict(zip(zip(dmap["source"], dmap["source_device_id"]), dmap["device_id"]))
        feed_unit: dict = {}
        for (s, d, e), t in unit.items():
            if is_feed_source(s):
                feed_unit.setdefault((d, e), set()).add(t)
        feed_device: dict = {}
        any_device: dict = {}
        for (s, d), t in device.items():
            any_device.setdefault(d, set()).add(t)
            if is_feed_source(s):
                feed_device.setdefault(d, set()).add(t)
        own = set(self.devices["device_id"])
        changed = {d for (s, d), t in device.items() if t != d} | \
            {d for (s, d, e), t in unit.items() if t != d} | \
            {d for d, targets in any_device.items() if len(targets) > 1}
        self._lookup.update({"unit": unit, "device": device, "feed_unit": feed_unit,
                             "feed_device": feed_device, "any_device": any_device,
                             "own": own, "touched": changed})

    def _resolve_one(self, source, device_id, evse):
        look = self._lookup
        source = None if source == "\x00" else source
        evse = None if evse == "\x00" else evse
        if evse is not None and (source, device_id, evse) in look["unit"]:
            return look["unit"][(source, device_id, evse)]
        if (source, device_id) in look["device"]:
            return look["device"][(source, device_id)]
        if is_feed_source(source):
            found = look["feed_unit"].get((device_id, evse)) if evse is not None else None
            if found is None or len(found) != 1:
                found = look["feed_device"].get(device_id)
            if found is not None and len(found) == 1:
                return next(iter(found))
        if device_id in look["own"]:
            return device_id
        found = look["any_device"].get(device_id)
        if found is not None and len(found) == 1:
            return next(iter(found))
        return device_id

    # naming records (for decisions) ---------------------------------------------------

    def resolve(self, text: str) -> tuple[str, tuple]:
        """("registry" | "feed", (source, device_id, evse_uid or None)) for what a person
        typed: a record key as in the review table (``ncr:ID``, ``ocpi:feed:LOC#EVSE``
        or a whole Location ``ocpi:feed:LOC``), or a registry device id or reference,
        or an OCPI evse_id or EVSE uid that names one record. ValueError otherwise."""
        if not self._aliases:
            self._build_aliases()
        text = (text or "").strip()
        exact, alias = self._aliases["exact"], self._aliases["alias"]
        if text in exact:
            return exact[text]
        found = alias.get(text)
        if found is not None and len(found) == 1:
            return next(iter(found))
        if found:
            raise ValueError(f"'{text}' names {len(found)} records; use a record key from "
                             "the review table (e.g. ncr:<device id>)")
        raise ValueError(f"no current record is called '{text}'; use a record key from the "
                         "review table (e.g. ncr:<device id> or ocpi:<feed>:<location>#<evse>)")

    def decision_pair(self, a: str, b: str, verdict: str) -> tuple[tuple, tuple]:
        """The registry record and the feed record an officer's decision names (``a`` and
        ``b`` as in the review table, either order); ValueError in words otherwise."""
        from ..store.interface import VERDICTS

        if verdict not in VERDICTS:
            raise ValueError(f"A decision is 'same' or 'different', not {verdict!r}.")
        named = []
        for text in (a, b):
            try:
                named.append(self.resolve(text))
            except ValueError as exc:
                raise ValueError(f"Cannot decide about '{text}': {exc}.") from None
        kinds = sorted(kind for kind, _ in named)
        if kinds != ["feed", "registry"]:
            raise ValueError(
                f"A decision pairs a registry device with a feed EVSE or Location; "
                f"'{a}' and '{b}' are both {kinds[0]} records.")
        registry, feed = sorted(named, key=lambda item: item[0] != "registry")
        return registry[1], feed[1]

    def _build_aliases(self) -> None:
        exact: dict = {}
        alias: dict = {}
        links = self.links
        for s, d, e, eid in zip(links["source"], links["source_device_id"],
                                links["evse_uid"], links["evse_id"]):
            kind = "feed" if is_feed_source(s) else "registry"
            record = (kind, (s, d, e))
            exact[unit_key(s, d, e)] = record
            if kind == "feed":
                exact.setdefault(unit_key(s, d), ("feed", (s, d, None)))
                for name in (eid, e):
                    if name:
                        alias.setdefault(name, set()).add(record)
            else:
                alias.setdefault(d, set()).add(record)
        registry = self.devices
        if "reference" in registry:
            for s, d, ref in zip(registry["source"], registry["device_id"],
                                 registry["reference"]):
                if ref and not is_feed_source(s):
                    alias.setdefault(ref, set()).add(
                        exact.get(unit_key(s, d), ("registry", (s, d, None))))
        self._aliases = {"exact": exact, "alias": alias}
