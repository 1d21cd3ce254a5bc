// Command pause is the sandbox ("pause") process of the real node's pods: it holds the pod's
// namespaces open and does nothing else. Built statically (CGO_ENABLED=0) into a one-file image
// by tools/images/build.sh, because no registry is reachable to pull the usual one.
//
// As PID 1 of a pod that shares its process namespace it must reap orphaned children, and it
// exits on SIGINT/SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
