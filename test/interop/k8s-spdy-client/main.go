// k8s-spdy-client drives peapod's streaming server with the Kubernetes
// client code itself (client-go tools/remotecommand and tools/portforward
// over moby/spdystream), the code crictl and the kubelet use. It is built
// by test/integration/streaming-k8s-client.test.ts against a vendored
// client-go (the cri-tools source tree), never shipped.
//
//	k8s-spdy-client exec URL [-stdin] [-tty] [-stderr]   exit status = the remote exit code
//	k8s-spdy-client portforward URL LOCAL:REMOTE         prints "ready" once listening
package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/utils/exec"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: k8s-spdy-client exec|portforward URL ...")
		os.Exit(2)
	}
	mode, rawURL := os.Args[1], os.Args[2]
	u, err := url.Parse(rawURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "exec":
		os.Exit(runExec(u, os.Args[3:]))
	case "portforward":
		os.Exit(runPortForward(u, os.Args[3:]))
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	os.Exit(2)
}

func runExec(u *url.URL, args []string) int {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	stdin := fs.Bool("stdin", false, "send our stdin")
	tty := fs.Bool("tty", false, "request a terminal")
	stderr := fs.Bool("stderr", false, "open the stderr stream")
	_ = fs.Parse(args)
	executor, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
	if err != nil {
		fmt.Fprintln(os.Stderr, "executor:", err)
		return 125
	}
	opts := remotecommand.StreamOptions{Stdout: os.Stdout, Tty: *tty}
	if *stdin {
		opts.Stdin = os.Stdin
	}
	if *stderr {
		opts.Stderr = os.Stderr
	}
	if *tty {
		opts.TerminalSizeQueue = &oneSize{size: &remotecommand.TerminalSize{Width: 100, Height: 30}}
	}
	err = executor.Stream(opts)
	if err == nil {
		return 0
	}
	if exitErr, ok := err.(exec.ExitError); ok {
		return exitErr.ExitStatus()
	}
	fmt.Fprintln(os.Stderr, "stream:", err)
	return 125
}

// oneSize reports one terminal size (100x30), then ends the resize stream.
type oneSize struct{ size *remotecommand.TerminalSize }

func (q *oneSize) Next() *remotecommand.TerminalSize {
	s := q.size
	q.size = nil
	return s
}

func runPortForward(u *url.URL, args []string) int {
	transport, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	stop := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		close(stop)
	}()
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, args, stop, ready, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	go func() {
		<-ready
		fmt.Println("ready")
	}()
	if err := pf.ForwardPorts(); err != nil {
		fmt.Fprintln(os.Stderr, "forward:", err)
		return 125
	}
	return 0
}
