// Package charttest holds the tests of the Helm chart in deploy/helm/aksbot, of the etcd
// manifests in deploy/etcd and of the AWS IAM policies in deploy/aws. The chart is rendered with Helm's own loader and engine, and every
// object is decoded strictly into its k8s.io/api type, so a misspelt field fails a test as it
// would fail `kubectl apply` with server-side field validation.
//
// It is a module of its own so that Helm and the Kubernetes modules stay out of the bot's go.mod.
package charttest
