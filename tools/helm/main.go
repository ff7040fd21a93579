// Command helm is the Helm CLI, built from its Go module (helm.sh/helm/v4)
// so that the chart checks (tests/deploy/check.sh) need nothing beyond the
// Go module proxy. It is helm's own cmd/helm/helm.go: `helm lint`,
// `helm template`, `helm install`, ... behave exactly as upstream's.
package main

import (
	"errors"
	"log/slog"
	"os"

	// Client auth plugins, as upstream's main imports them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func main() {
	// The field manager stays "helm" whatever the binary is called.
	kube.ManagedFieldsManager = "helm"

	cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
	if err != nil {
		slog.Warn("command failed", slog.Any("error", err))
		os.Exit(1)
	}
	if err := cmd.Execute(); err != nil {
		if cerr, ok := errors.AsType[helmcmd.CommandError](err); ok {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
}
