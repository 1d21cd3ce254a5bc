// Pins the prometheus-operator release whose CRDs (example/prometheus-operator-crd/ in its Go
// module) the chart's ServiceMonitor and PrometheusRule are validated against. Nothing is built:
// tools/prometheus-operator-crds/dir.sh downloads the module and prints where its CRDs are.
module jwt-rotation-operator/tools/prometheus-operator-crds

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
