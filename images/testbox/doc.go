// Package testbox is kindish's test server, the program in the
// kindish/testbox image: a small static binary in the spirit of Kubernetes'
// agnhost, so that tests written against agnhost's netexec read the same
// here. cmd/testbox binds it to the process; everything else lives here so
// that it can be tested.
//
// Subcommands:
//
//	serve (alias netexec)   HTTP server on --http-port (8080) and UDP server on --udp-port (8081)
//	hostname                print the hostname
//	dns-lookup NAME         resolve NAME through /etc/resolv.conf (--type A, AAAA, CNAME, SRV, ...);
//	                        --count N resolves it N times and prints p50/p90/p99 latencies instead
//	dial ADDR               connect to ADDR over --protocol tcp, udp or http and print the reply
//	wait-for ADDR           dial ADDR until a try succeeds; print when, and after how long, measured
//	                        in the pod (a Service's programming latency without an exec's delay)
//	kube-pods               list the pods of --namespace (default: the pod's own) as "NAME PHASE"
//	                        lines with in-cluster client-go: the ServiceAccount token, and the
//	                        API server's 403 message when RBAC refuses
//	sleep DURATION          sleep (also "infinity"); SIGTERM ends it with status 0
//	exit CODE               exit with status CODE
//	env                     print the environment, sorted
//	cat FILE...             print files: the image has no shell, and volume tests need one
//
// The HTTP endpoints of serve:
//
//	/, /hostname           the hostname
//	/clientip              the client's ip:port, as the server sees it
//	/echo?msg=X[&code=N]   X, with status N
//	/headers               the request's headers, one "Name: value" a line
//	/healthz               200 "ok" when healthy, 503 and the reason when not
//	                       (--healthz-delay, --healthz-fail-after, or the two below)
//	/healthz/fail          make /healthz fail from now on (GET or POST)
//	/healthz/ok            make /healthz pass from now on, start-up delay or not
//	/exit?code=N           answer, then stop the server and exit with status N
//	/dial?host=H&port=P&protocol=http|udp|tcp&request=R&tries=T[&timeout=D]
//	                       reach H:P T times, answer {"responses":[...],"errors":[...]}
//
// The UDP server answers "hostname", "echo X" and "clientip" as netexec's does.
package testbox
