# Shared by the @connections and cluster benchmark scripts: sourced, not run. Needs `bin` (the
# folder of the release binaries) and `work` (a temp dir).
#   write_gateway_config: $work/petrel.yaml with a bearer-protected admin listener (token
#     `bench-token`), an echo `$default` route and a `whoami` mock route;
#   start_gateway: one gateway with it on CPU 0; sets `pid`, `pport` (public), `aport` (admin).
write_gateway_config() {
    cat > "$work/petrel.yaml" <<'YAML'
listeners:
  public: {address: 127.0.0.1:0}
  admin: {address: 127.0.0.1:0, auth: {bearer_tokens: [bench-token]}}
websocket:
  route_selection: $request.body.action
  routes:
    $default: {integration: echo}
    whoami: {integration: whoami, respond: true}
integrations:
  echo: {type: mock, mode: echo}
  whoami: {type: mock, status: 200, body: '{"connectionId":"${context.connectionId}"}'}
YAML
}

start_gateway() {
    write_gateway_config
    taskset -c 0 "$bin/petrel" serve --config "$work/petrel.yaml" --threads 1 > "$work/petrel.log" &
    pid=$!
    for _ in $(seq 50); do grep -q '"listener":"admin"' "$work/petrel.log" && break; sleep 0.1; done
    pport=$(grep -o '"listener":"public","address":"[^"]*' "$work/petrel.log" | grep -o '[0-9]*$')
    aport=$(grep -o '"listener":"admin","address":"[^"]*' "$work/petrel.log" | grep -o '[0-9]*$')
}
