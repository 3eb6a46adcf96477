# Run by clients_in_a_namespace (namespace.rs) with sh -c, as PID 1 of a
# private PID namespace: sh -c SCRIPT sh DIR SERVER CLIENT LEGIT PID...
dir=$1 server=$2 client=$3 legit=$4
shift 4
sleep 600 & bystander=$!
"$server" --trace >"$dir/server.out" 2>"$dir/server.err" &
srv=$!
i=0
until grep -q "^server PID $srv\$" "$dir/server.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 6000 ]; then echo "the server did not start"; exit 9; fi
    sleep 0.01
done
echo "server $srv"
if [ -n "$legit" ]; then
    "$client" "$srv" "${legit#m:}" >"$dir/legit.out" 2>"$dir/legit.err" &
    legit_pid=$!
fi
n=0
for pid in "$@"; do
    case $pid in
    SELF) sh -c 'exec "$0" "$$" hello' "$client" >"$dir/$n.out" 2>"$dir/$n.err" ;;
    *) "$client" "$pid" hello >"$dir/$n.out" 2>"$dir/$n.err" ;;
    esac
    echo "exit $n $?"
    n=$((n + 1))
done
if [ -n "$legit" ]; then
    wait $legit_pid
    echo "legit $legit_pid $?"
fi
"$client" "$srv" "the good one" >"$dir/good.out" 2>"$dir/good.err" &
good=$!
wait $good
echo "good $good $?"
state() {
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
    s=${s##*) }
    echo "${s%% *}"
}
echo "bystander $(state $bystander)"
kill -TERM $srv
wait $srv
echo "server-exit $?"
kill -KILL $bystander 2>/dev/null
exit 0
