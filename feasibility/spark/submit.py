"""``spark-submit`` entry point: the ``feasibility`` command line inside a Spark application.

spark-submit runs a Python *file*, not a console script::

    spark-submit --master yarn --deploy-mode client \\
        --conf spark.executor.memory=16g --conf spark.sql.shuffle.partitions=400 \\
        "$(python -c 'import feasibility.spark.submit as m; print(m.__file__)')" \\
        screen --engine spark --data s3a://bucket/registry --protocol pomalidomide-ixazomib-dex \\
        --index-date 2024-06-30 --out out/screen

The session spark-submit configured is the one the command uses (``get_session`` reuses a
running session; ``--spark-master`` is then ignored). The arguments are those of
``feasibility`` (``screen``, ``report``, ``validate``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    from feasibility.cli import main as cli_main
    from feasibility.spark.session import get_session

    get_session()  # the application's session (spark-submit's master and --conf)
    return cli_main(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover - run by spark-submit
    # run as a file, this directory is first on sys.path: drop it, so that modules here
    # (engine, session, quality, ...) never shadow top-level packages
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != here]
    sys.exit(main())
