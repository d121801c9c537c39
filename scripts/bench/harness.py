"""The curwatch benchmark harness: curwatch against DuckDB on the same CUR files.

Generates legacy CUR Parquet months with `curwatch synth` (110 columns, several files a
month, about 5% API Gateway lines), then measures side by side, several repetitions each:
curwatch ingest, its two reports over its store, DuckDB answering the same questions over the
raw files and over curwatch's store, DuckDB writing the canonical columns to Parquet, and the
decode floor. Records wall time, CPU time, rows/s and peak RSS per child process.

Run it through scripts/bench/run, which builds the release binaries once.
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SIZES = {"1M": 1_000_000, "10M": 10_000_000, "40M": 40_000_000}


def measure(argv, env=None):
    """Runs argv; returns (wall s, cpu s, peak RSS MiB) of that child alone."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(map(str, argv))}\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def count_rows(truth):
    """Rows the month holds, from the generator's truth, read in a child process: Linux reports
    a child's peak RSS as at least this process's size when it forked, so the harness must stay
    small (truth.json of a 40M month parses to tens of megabytes)."""
    code = "import json, sys; print(sum(r['rows'] for r in json.load(open(sys.argv[1]))['totals']))"
    return int(subprocess.run([sys.executable, "-c", code, truth], check=True, capture_output=True, text=True).stdout)


def duckdb(sql_file, **values):
    sql = (HERE / sql_file).read_text().format(**values)
    code = "import duckdb, sys; r = duckdb.sql(sys.argv[1]); r.fetchall() if r is not None else None"
    return [sys.executable, "-c", code, sql]


def generate(curwatch, size, lines, data):
    exports = data / size / "exports"
    if not (exports / "truth.json").exists():
        shutil.rmtree(exports, ignore_errors=True)
        per_file = max(lines // 8, 250_000)
        print(f"generating {size}: {lines:,} line items, 110 columns, {per_file:,} per file", flush=True)
        subprocess.run(
            [curwatch, "synth", "-q", "--out", exports, "--layouts", "legacy-parquet", "--months", "1",
             "--lines", str(lines), "--width", "110", "--lines-per-file", str(per_file)],
            check=True,
        )
    return exports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M,40M")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", default=str(REPO / "bench-data"))
    parser.add_argument("--curwatch", required=True)
    parser.add_argument("--decode-floor", required=True)
    args = parser.parse_args()
    data = Path(args.data)
    rows_out = []
    for size in args.sizes.split(","):
        lines = SIZES[size]
        exports = generate(args.curwatch, size, lines, data)
        raw_files = sorted(glob.glob(f"{exports}/**/*.parquet", recursive=True))
        raw = f"{exports}/legacy-parquet/cur/*/*/year=*/month=*/*.parquet"
        # The month holds more rows than asked for (month-end charges, savings-plan negations).
        rows = count_rows(exports / "truth.json")
        store = data / size / "store"
        out = data / size / "duckdb-canonical.parquet"
        cases = [
            ("curwatch ingest", lambda: [args.curwatch, "--store", store, "ingest", "-q", "--full", exports], True),
            ("curwatch ingest, nothing new (incremental re-run)", lambda: [args.curwatch, "--store", store, "ingest", "-q", exports], False),
            ("curwatch report --by service", lambda: [args.curwatch, "--store", store, "report", "--by", "service", "--format", "csv"], False),
            ("curwatch report --by team,api_id,stage", lambda: [args.curwatch, "--store", store, "report", "--by", "team,api_id,stage", "--format", "csv"], False),
            ("DuckDB COPY canonical columns (raw)", lambda: duckdb("copy_canonical.sql", raw=raw, out=out), False),
            ("DuckDB by service (raw)", lambda: duckdb("raw_by_service.sql", raw=raw), False),
            ("DuckDB by team,api_id,stage (raw)", lambda: duckdb("raw_by_team_api_stage.sql", raw=raw), False),
            ("DuckDB by service (curwatch store)", lambda: duckdb("store_by_service.sql", store=store), False),
            ("DuckDB by team,api_id,stage (curwatch store)", lambda: duckdb("store_by_team_api_stage.sql", store=store), False),
            ("decode floor (parquet crate, needed columns)", lambda: [args.decode_floor, *raw_files], False),
        ]
        shutil.rmtree(store, ignore_errors=True)
        for name, argv, _ in cases:
            runs = []
            for _ in range(args.reps):
                runs.append(measure(argv()))
            walls = [r[0] for r in runs]
            rows_out.append({
                "size": size, "case": name, "rows": rows,
                "wall": statistics.median(walls), "min": min(walls), "max": max(walls),
                "cpu": statistics.median(r[1] for r in runs), "rss": max(r[2] for r in runs),
            })
            r = rows_out[-1]
            print(f"{size:>4} {name:<48} {r['wall']:8.2f} s  ({r['min']:.2f}–{r['max']:.2f})  cpu {r['cpu']:7.2f} s  "
                  f"{rows / r['wall'] / 1e6:6.2f} M rows/s  peak {r['rss']:7.0f} MiB", flush=True)
    print()
    print("| rows | case | wall s (median) | spread | CPU s | M rows/s | peak RSS MiB |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: |")
    for r in rows_out:
        print(f"| {r['size']} | {r['case']} | {r['wall']:.2f} | {r['min']:.2f}–{r['max']:.2f} | {r['cpu']:.2f} | "
              f"{r['rows'] / r['wall'] / 1e6:.2f} | {r['rss']:.0f} |")
    print()
    by = {(r["size"], r["case"]): r["wall"] for r in rows_out}
    print("| rows | ratio | value | target |")
    print("| --- | --- | ---: | --- |")
    for size in args.sizes.split(","):
        w = lambda case: by[(size, case)]
        ratios = [
            ("ingest / DuckDB COPY", w("curwatch ingest") / w("DuckDB COPY canonical columns (raw)"), "≤ 0.7"),
            ("ingest / decode floor", w("curwatch ingest") / w("decode floor (parquet crate, needed columns)"), "≤ 2.5"),
            ("incremental re-run, nothing new (s)", w("curwatch ingest, nothing new (incremental re-run)"), "< 1 s"),
            ("report by service / DuckDB on store", w("curwatch report --by service") / w("DuckDB by service (curwatch store)"), "≤ 1.0"),
            ("report by service / DuckDB on raw", w("curwatch report --by service") / w("DuckDB by service (raw)"), "≤ 0.2"),
            ("report team,api,stage / DuckDB on store", w("curwatch report --by team,api_id,stage") / w("DuckDB by team,api_id,stage (curwatch store)"), "≤ 1.0"),
            ("report team,api,stage / DuckDB on raw", w("curwatch report --by team,api_id,stage") / w("DuckDB by team,api_id,stage (raw)"), "≤ 0.2"),
        ]
        for name, value, target in ratios:
            print(f"| {size} | {name} | {value:.2f} | {target} |")
    # Time and memory per row should not depend on the month's size.
    sizes = args.sizes.split(",")
    rows_of = {r["size"]: r["rows"] for r in rows_out}
    rss = {(r["size"], r["case"]): r["rss"] for r in rows_out}
    first = sizes[0]
    for size in sizes[1:]:
        per_row = lambda s: by[(s, "curwatch ingest")] / rows_of[s]
        print(f"| {size} | ingest time per row / at {first} | {per_row(size) / per_row(first):.2f} | 0.8–1.2 |")
        print(f"| {size} | ingest peak RSS / at {first} | {rss[(size, 'curwatch ingest')] / rss[(first, 'curwatch ingest')]:.2f} | ≤ 1.2 (and ≤ 1 GiB) |")


if __name__ == "__main__":
    main()
