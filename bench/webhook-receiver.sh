#!/usr/bin/env bash
# The benches' webhook receiver, as a deployment would run one: Debian's nginx on 127.0.0.1,
# one process (no master), answering 204 to every POST on a kept-alive connection, discarding
# the body. Writes its port to DIR/port once chosen, then execs nginx in the foreground, so the
# caller's $! is the one process that does the work (its CPU is the receiver's; stop it with
# SIGTERM). `GET /count` answers nginx's stub_status: its "requests" line counts every request
# served (deliveries, plus the status requests themselves), so arrivals can be checked without
# an access log.
#
#   bench/webhook-receiver.sh DIR
#
# Deliveries are `POST /hook`; DIR holds the config, the temp paths, the pid and error log.
set -euo pipefail
dir=${1:?usage: bench/webhook-receiver.sh DIR}
mkdir -p "$dir/temp"
dir=$(cd "$dir" && pwd)
# A free port (the kernel's pick, released just before nginx binds it: a race only with other
# processes binding ephemeral ports in that instant).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $dir/temp/body;
  proxy_temp_path $dir/temp/proxy;
  fastcgi_temp_path $dir/temp/fastcgi;
  uwsgi_temp_path $dir/temp/uwsgi;
  scgi_temp_path $dir/temp/scgi;
  # A webhook's deliveries reuse one connection for as long as it stays busy.
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  # An event is far smaller: the body stays in memory and is discarded.
  client_body_buffer_size 64k;
  client_max_body_size 1m;
  server {
    listen 127.0.0.1:$port;
    location = /hook { return 204; }
    location = /count { stub_status; }
    location / { return 404; }
  }
}
EOF
echo "$port" >"$dir/port"
exec nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
