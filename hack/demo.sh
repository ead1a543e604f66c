#!/usr/bin/env bash
# The source documents' walkthrough on a fresh kindish cluster: each command
# as a reader would type it, then what it printed. `make demo` runs it; the
# cluster is deleted at the end, whatever happens.
#
#   KINDISH   the kindish binary (default bin/kindish)
#   CLUSTER   the cluster's name (default demo)
set -euo pipefail
cd "$(dirname "$0")/.."

KINDISH=${KINDISH:-bin/kindish}
CLUSTER=${CLUSTER:-demo}
work=$(mktemp -d)
# The demo's own kubeconfig: the reader's stays as it was.
export KUBECONFIG=$work/kubeconfig

cleanup() {
	"$KINDISH" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# run prints a command as the documents do, then runs it.
run() {
	printf '\n$ %s\n' "$*"
	"$@"
}

# show prints a file as it is written before a command uses it.
show() {
	printf '\n# %s\n' "$1"
	sed 's/^/  /' "$1"
}

cat >"$work/cluster.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
EOF
show "$work/cluster.yaml"
run "$KINDISH" create cluster --name "$CLUSTER" --config "$work/cluster.yaml" --preload-image nginx,busybox,kindish/testbox:v0.1.0 --wait 3m

echo
echo "## Cluster nodes"
run kubectl get nodes

echo
echo "## Process tree with running services: a worker, then the control plane"
run docker exec "$CLUSTER-worker" ps fxwwo pid,cmd
run docker exec "$CLUSTER-control-plane" ps fxwwo pid,cmd

echo
echo "## A pod from the command line"
run kubectl run nginx --image nginx
run kubectl wait --for=condition=Ready pod/nginx --timeout=2m
run kubectl get pods -o wide

echo
echo "## A pod from a file"
cat >"$work/my-pod.yml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app: myapp
    type: front-end
spec:
  containers:
  - name: nginx-container
    image: nginx
EOF
show "$work/my-pod.yml"
run kubectl create -f "$work/my-pod.yml"
run kubectl wait --for=condition=Ready pod/myapp-pod --timeout=2m
run kubectl describe pod myapp-pod

echo
echo "## A ReplicaSet, scaled from its file and replaced"
cat >"$work/foo.yml" <<EOF
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myapp-replicaset
  labels:
    app: myapp
spec:
  replicas: 3
  selector:
    matchLabels:
      type: front-end
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
EOF
show "$work/foo.yml"
run kubectl create -f "$work/foo.yml"
run kubectl scale --replicas=6 -f "$work/foo.yml"
run kubectl wait --for=jsonpath='{.status.readyReplicas}'=6 replicaset/myapp-replicaset --timeout=2m
run kubectl get replicaset myapp-replicaset
run kubectl replace -f "$work/foo.yml"
run kubectl wait --for=jsonpath='{.status.replicas}'=3 replicaset/myapp-replicaset --timeout=2m
run kubectl get replicaset myapp-replicaset

echo
echo "## A Deployment, upgraded one pod at a time"
cat >"$work/deployment.yml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp-deployment
  labels:
    app: myapp
    type: front-end
spec:
  replicas: 3
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  selector:
    matchLabels:
      type: back-end
  template:
    metadata:
      labels:
        app: myapp
        type: back-end
    spec:
      containers:
      - name: app
        image: nginx
EOF
show "$work/deployment.yml"
run kubectl create -f "$work/deployment.yml"
run kubectl rollout status deployment/myapp-deployment --timeout=2m
run kubectl set image deployment/myapp-deployment app=kindish/testbox:v0.1.0
run kubectl rollout status deployment/myapp-deployment --timeout=2m
run kubectl rollout history deployment/myapp-deployment
run kubectl get replicasets -l type=back-end

echo
echo "## A Deployment in the namespace dev"
run kubectl create namespace dev
run kubectl create deployment myapp-deployment --image nginx --replicas 2 --namespace=dev
run kubectl rollout status deployment/myapp-deployment --namespace=dev --timeout=2m
run kubectl get deployments,replicasets,pods --namespace=dev

echo
echo "## A ResourceQuota in dev: three pods at most"
cat >"$work/quota.yml" <<EOF
apiVersion: v1
kind: ResourceQuota
metadata:
  name: dev-quota
  namespace: dev
spec:
  hard:
    pods: "3"
    services: "2"
EOF
show "$work/quota.yml"
run kubectl create -f "$work/quota.yml"
run kubectl wait --for=jsonpath='{.status.used.pods}'=2 resourcequota/dev-quota --namespace=dev --timeout=1m
run kubectl run third --image nginx --namespace=dev
# The fourth pod is refused: the command fails, as the reader expects.
run kubectl run fourth --image nginx --namespace=dev || true
run kubectl describe resourcequota dev-quota --namespace=dev

echo
echo "## A Service, called by servicename.namespace.svc.cluster.local"
run kubectl expose deployment myapp-deployment --port 80 --namespace=dev
run kubectl get service myapp-deployment --namespace=dev
run kubectl run fetch --image busybox --restart=Never -- \
	wget -qO- http://myapp-deployment.dev.svc.cluster.local/
run kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/fetch --timeout=2m
run kubectl logs fetch
