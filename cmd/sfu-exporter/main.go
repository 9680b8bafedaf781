// Command sfu-exporter serves Prometheus metrics about janus.plugin.sfu,
// read at each scrape from the admin API of one or more Janus instances:
//
//	sfu-exporter -janus http://127.0.0.1:7088/admin [-janus ...] [-listen :9188]
//
// The admin secret comes from -admin-secret or $JANUS_ADMIN_SECRET. See
// docs/admin.md for the metrics and a scrape config.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/janus-sfu-go/janus-plugin-sfu/cmd/sfu-exporter/exporter"
)

// version is the build's version (Makefile: git describe).
var version = "dev"

type targets []string

func (t *targets) String() string     { return strings.Join(*t, ",") }
func (t *targets) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	var janus targets
	flag.Var(&janus, "janus", "Janus admin API URL, e.g. http://127.0.0.1:7088/admin (repeat for several instances)")
	secret := flag.String("admin-secret", os.Getenv("JANUS_ADMIN_SECRET"), "Janus admin_secret (default $JANUS_ADMIN_SECRET)")
	listen := flag.String("listen", ":9188", "address to serve /metrics on")
	timeout := flag.Duration("timeout", 5*time.Second, "how long one Janus may take to answer a scrape")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("sfu-exporter", version)
		return
	}
	if len(janus) == 0 {
		fmt.Fprintln(os.Stderr, "sfu-exporter: give at least one -janus URL")
		flag.Usage()
		os.Exit(2)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(exporter.New(exporter.Options{Targets: janus, Secret: *secret, Timeout: *timeout}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: log.Default()}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "sfu-exporter: metrics at /metrics")
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("sfu-exporter %s: serving %s/metrics for %s", version, *listen, janus.String())
	log.Fatal(srv.ListenAndServe())
}
