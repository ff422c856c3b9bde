"""Child process of the kill tests: ``python kill_import.py STORE N`` imports N
sessions into the store (a GeoPackage path or a database address) and prints
"writing" from inside the import transaction, just before the sessions are
written, so the test knows when a SIGKILL lands mid-import."""

import sys

import numpy as np
import pandas as pd

from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.store.address import open_store

n = int(sys.argv[2])
start = pd.Timestamp("2019-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
frame = conform(pd.DataFrame({
    "session_key": [f"big:{i}" for i in range(n)],
    "device_id": [f"D{i % 500}" for i in range(n)], "connector_id": "1",
    "start_utc": start, "end_utc": start + pd.Timedelta(minutes=30),
    "kwh": np.full(n, 5.5), "source": "big"}), "sessions")
store = open_store(sys.argv[1])
backend = type(store)
write_sessions = backend._write_sessions


def announce(self, *args):
    print("writing", flush=True)  # inside the transaction, before the inserts
    return write_sessions(self, *args)


backend._write_sessions = announce
store.import_parse_result(ParseResult("sessions", "big", n, {"sessions": frame}),
                          "big.csv", "big-sha")
store.close()
print("done", flush=True)
