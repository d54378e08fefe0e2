#!/usr/bin/env bash
# scripts/sweep-slurm against a real single-node Slurm cluster started here on localhost:
# munged, slurmctld and slurmd with a generated slurm.conf in a temporary directory (own ports,
# own state). The array's shards merged by the dependent job must equal an unsharded run byte
# for byte. Exits 77 (CTest SKIP_RETURN_CODE) with the reason when the daemons cannot start.
#   sim/sweep_slurm_test.sh BINARY SOURCE_DIR
set -uo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in munged slurmctld slurmd sbatch sinfo scontrol; do
  command -v "$tool" > /dev/null || [[ -x /usr/sbin/$tool ]] ||
    skip "$tool not installed (scripts/setup installs slurmctld, slurmd, slurm-client, munge)"
done
[[ $(id -u) -eq 0 ]] || skip "slurmd needs root to run jobs as their owner"
PATH=$PATH:/usr/sbin

tmp=$(mktemp -d /tmp/ramstream-slurm.XXXXXX)
[[ -n $tmp && -d $tmp ]] || fail "mktemp"
chmod 755 "$tmp"
pids=()
cleanup() {
  [[ -f $tmp/slurm.conf ]] && SLURM_CONF=$tmp/slurm.conf scontrol shutdown > /dev/null 2>&1
  sleep 1
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  [[ -S $tmp/munge/socket ]] && munged -s --socket="$tmp/munge/socket" > /dev/null 2>&1
  [[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
logs() { tail -n 20 "$tmp"/*.log >&2 2> /dev/null; }

# munge: a fresh key and socket of our own.
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool"
chmod 700 "$tmp/munge"
head -c 1024 /dev/urandom > "$tmp/munge/key" && chmod 400 "$tmp/munge/key"
munged -f --socket="$tmp/munge/socket" --key-file="$tmp/munge/key" \
  --pid-file="$tmp/munge/pid" --seed-file="$tmp/munge/seed" --log-file="$tmp/munged.log" ||
  skip "munged did not start: $(tail -n 3 "$tmp/munged.log" 2> /dev/null)"
chmod 755 "$tmp/munge"

# Two free TCP ports for slurmctld and slurmd.
read -r port1 port2 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
host=$(hostname -s)
cat > "$tmp/slurm.conf" <<CONF
ClusterName=ramstream-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port1
SlurmdPort=$port2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -D -f "$SLURM_CONF" > "$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$tmp/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 60); do
  state=$(timeout 5 sinfo -h -o %t 2> /dev/null | head -n 1)
  [[ $state == idle* ]] && break
  sleep 0.5
done
[[ $state == idle* ]] || { logs; skip "the single-node cluster did not come up (node state '$state')"; }
echo "slurm: node $host idle (ports $port1/$port2)"

grid=$src/sim/sweeps/worked-example-grid.textproto
"$bin" sweep "$grid" -q -j1 -o "$tmp/local.csv" || fail "local run"
if ! RAMSTREAM=$bin timeout 240 "$src/scripts/sweep-slurm" -n 3 --wait "$grid" \
    -o "$tmp/slurm.csv" --workdir "$tmp/shards"; then
  logs
  tail "$tmp"/shards/*.log
  fail "sweep-slurm"
fi
[[ -f $tmp/shards/shard-2.csv ]] || fail "no shard 2 output"
cmp "$tmp/local.csv" "$tmp/slurm.csv" || fail "the Slurm result differs from a local run"
# The array really ran as 3 tasks (one log per task).
[[ $(find "$tmp/shards" -name "task-*.log" | wc -l) -eq 3 ]] || fail "expected 3 task logs"
echo "sweep-slurm: 3 array tasks + merge job = local run, byte for byte"
