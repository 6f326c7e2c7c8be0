"""Run DAGs of this repository one after another with ``dag.test()``, in one Airflow process: the demo's
driver (samples/demo_dagtest.py starts it and follows its output).

``airflow dags test`` once per DAG starts Airflow, parses the DAGs and builds the in-process Execution API
each time — some ten seconds before the first task of every DAG. One process pays that once. Between DAGs
it prints a marker line, ``@@gateway-dag start <id>`` and ``@@gateway-dag end <id> <state>``, so the driver
can tell whose output follows; it stops at the first run that does not succeed.

    python -m samples.run_dags DAGS_FOLDER DAG_ID [DAG_ID ...]
"""

from __future__ import annotations

import sys

MARK = "@@gateway-dag"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 2
    folder, dag_ids = argv[0], argv[1:]
    # The dag-processor puts the bundle root on sys.path (DAG files import dags/gateway_common); DagBag
    # in a plain process does not.
    sys.path.insert(0, folder)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder)
    if bag.import_errors:
        print(f"{MARK} import-errors {bag.import_errors}", flush=True)
        return 1
    for dag_id in dag_ids:
        print(f"{MARK} start {dag_id}", flush=True)
        run = bag.dags[dag_id].test()
        print(f"{MARK} end {dag_id} {run.state}", flush=True)
        if str(run.state) != "success":
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
