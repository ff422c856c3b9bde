"""How schema4_store.gpkg was made (run once with the schema-4 code of commit b8c541e;
kept for provenance, not run by the tests):

    python tests/data/stores/make_schema4_store.py OUT.gpkg

Devices: the Dundee locations; sessions: the first 300 rows of a Dundee session file
(with its rejected rows), a small file holding an open session and a rejected row, and
a later file completing that session; status snapshots: two OCPI example locations."""

import gzip
import sys
from pathlib import Path

from ev_chargepoints.core.store.geopackage import HistoryStore

ROOT = Path(__file__).resolve().parents[3]
HEADER = "Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,Total kWh," \
         "Cost,Site,Group,Model"


def main(out: Path) -> None:
    work = out.parent
    dundee = ROOT / "resources" / "data" / "dundee"
    lines = gzip.open(dundee / "cpdata.csv.gz", "rt").read().splitlines()[:301]
    (work / "dundee-head.csv").write_text("\n".join(lines) + "\n")
    (work / "open.csv").write_text("\n".join([
        HEADER, "9000001,50270,2,01/12/2017,12:00,,,,0,S,G,M",
        "9000002,50270,1,01/12/2017,10:00,01/12/2017,09:00,5,0,S,G,M",  # end before start
        "9000003,50270,1,02/12/2017,10:00,02/12/2017,11:00,4.5,0,S,G,M"]) + "\n")
    (work / "closed.csv").write_text("\n".join([
        HEADER, "9000001,50270,2,01/12/2017,12:00,01/12/2017,14:30,12.25,0,S,G,M",
        "9000003,50270,1,02/12/2017,10:00,02/12/2017,11:00,4.5,0,S,G,M"]) + "\n")
    spec = ROOT / "tests" / "data" / "ocpi" / "spec-examples"
    with HistoryStore.create_or_open(out) as store:
        for path in [dundee / "cp-locations.csv.gz", work / "dundee-head.csv",
                     work / "open.csv", work / "closed.csv",
                     spec / "location_example.json",
                     spec / "location_example_uc2_destination_charger.json"]:
            report = store.import_file(path)
            print(path.name, report.outcome, report.message)
        print(store.counts(), store.schema_version)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
