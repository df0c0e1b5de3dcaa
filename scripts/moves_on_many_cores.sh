#!/usr/bin/env bash
# Single-atom moves (scripts/atom_moves.py) on every core of one machine for a fixed time.
#
#   bash scripts/moves_on_many_cores.sh SECONDS WORKERS TARBALL "Cu Ni Co" ATOM_MOVES_ARGS...
#   e.g. bash scripts/moves_on_many_cores.sh 480 16 /tmp/new.tgz "Cu Ni Co Mn Zn Ti V Cr" \
#            --parents 28 --families bend10 bend5
#
# Starts a Dask scheduler and WORKERS one-thread workers on 127.0.0.1, then one
# `atom_moves.py data/feff --together --metals M --scheduler ADDRESS ARGS...` per metal, so no worker
# waits for another edge's slowest run. After SECONDS each is interrupted (simulate records what
# finished and leaves the rest for a rerun), the cluster is stopped by its process groups, and the
# files of data/feff written since the start, less what data/feff/.gitignore keeps out (FEFF's logs),
# are packed into TARBALL with the logs (moves-logs/), to unpack in a checkout with `tar xzf TARBALL`.
set -u
seconds=$1 workers=$2 tarball=$3 metals=$4
shift 4
py=${PYTHON:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
logs=$(mktemp -d)
mkdir "$logs/moves-logs"
touch "$logs/start"
sleep 1  # files written from now on are newer than the stamp

setsid "$py" -m distributed.cli.dask_scheduler --host 127.0.0.1 --port 0 --no-dashboard \
    --scheduler-file "$logs/scheduler.json" >"$logs/moves-logs/scheduler.log" 2>&1 &
scheduler=$!
for _ in $(seq 60); do [ -s "$logs/scheduler.json" ] && break; sleep 1; done
address=$("$py" -c "import json, sys; print(json.load(open(sys.argv[1]))['address'])" "$logs/scheduler.json") || {
    echo "moves_on_many_cores: the Dask scheduler did not start:"; tail -5 "$logs/moves-logs/scheduler.log"; exit 1; }
setsid "$py" -m distributed.cli.dask_worker "$address" --nworkers "$workers" --nthreads 1 --memory-limit 0 \
    --host 127.0.0.1 --no-dashboard >"$logs/moves-logs/workers.log" 2>&1 &
cluster_workers=$!
echo "moves_on_many_cores: scheduler $address (pid $scheduler), $workers workers (pid $cluster_workers), $seconds s"

runs=()
for metal in $metals; do
    "$py" scripts/atom_moves.py data/feff --together --metals "$metal" --scheduler "$address" \
        "$@" >"$logs/moves-logs/$metal.log" 2>&1 &
    runs+=($!)
done
any_running() { for pid in "${runs[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
deadline=$((SECONDS + seconds))
while [ $SECONDS -lt $deadline ] && any_running; do sleep 5; done
for pid in "${runs[@]}"; do kill -TERM "$pid" 2>/dev/null; done  # simulate: an interrupt, results kept
for _ in $(seq 30); do any_running || break; sleep 1; done
for pid in "${runs[@]}"; do kill -KILL "$pid" 2>/dev/null; done
for group in $cluster_workers $scheduler; do kill -TERM -- "-$group" 2>/dev/null; done
sleep 3
for group in $cluster_workers $scheduler; do kill -KILL -- "-$group" 2>/dev/null; done

for metal in $metals; do echo "== $metal"; grep -E "^simulate:|FAILED" "$logs/moves-logs/$metal.log" | tail -4; done
# an interrupted atom_moves.py did not pack FEFF's raw tables and inputs: do it for every edge it worked on
"$py" -c "import sys; from xanesviz.simulate import pack_feff_files; [pack_feff_files(f'data/feff/{m.lower()}-k') for m in sys.argv[1:]]" $metals
# what data/feff/.gitignore keeps out of the repository stays out of the tarball too
find data/feff -newer "$logs/start" -type f ! -name 'log*.dat' ! -name feff.out ! -name paths.dat \
    ! -name list.dat ! -name xmu.dat ! -name '*.tmp' ! -name .simulate.lock >"$logs/moves-logs/files"
tar czf "$tarball" -T "$logs/moves-logs/files" -C "$logs" moves-logs
echo "moves_on_many_cores: $(wc -l <"$logs/moves-logs/files") files packed into $tarball ($(du -h "$tarball" | cut -f1))"
