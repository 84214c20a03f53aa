# The proxy benchmarks' scimgate policy (sourced by bench/proxy/run and bench/proxy/count).
#
# write_policy FILE UPSTREAM GROUP_COUNT: 200 rules on the one route, written so the
# request is allowed only by the last: 20 deny rules (paths and groups the request does
# not touch), then 179 allow rules that name the user's groups on other paths or other
# groups on this path, then the allow rule that matches.
write_policy() {
    local file=$1 upstream=$2 groups=$3 i g
    {
        echo "routes:"
        echo "  - name: bench"
        echo "    match: { host: \"*\", path: /** }"
        echo "    upstream: $upstream"
        echo "    deny:"
        for i in $(seq 0 19); do
            if ((i % 2)); then
                echo "      - { name: deny-$i, paths: [/admin-$i/**] }"
            else
                echo "      - { name: deny-$i, groups: [contractors-$i], methods: [DELETE, PUT] }"
            fi
        done
        echo "    allow:"
        for i in $(seq 0 178); do
            g=$(printf 'bench-group-%02d' $((i % groups)))
            if ((i % 2)); then
                echo "      - { name: allow-$i, groups: [$g], paths: [/area-$i/**] }"
            else
                echo "      - { name: allow-$i, groups: [team-$i, team-$i-admins], methods: [GET, HEAD] }"
            fi
        done
        echo "      - { name: bench-readers, groups: [bench-group-$((groups - 1))], methods: [GET, HEAD] }"
    } >"$file"
}
