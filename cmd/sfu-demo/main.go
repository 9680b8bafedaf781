// Command sfu-demo serves the built networked-aframe demo (demo/dist) and
// proxies its WebSocket path /janus to Janus, so the page needs no
// configuration: it connects to ws://<its own host>/janus, exactly as it
// does behind nginx in production (docs/deploy.md).
//
//	sfu-demo -listen 127.0.0.1:8080 -root demo/dist -janus http://127.0.0.1:8188
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve the demo on")
	root := flag.String("root", "demo/dist", "folder with the built demo (index.html, app.js, app.css)")
	janus := flag.String("janus", "http://127.0.0.1:8188", "Janus WebSocket transport to proxy /janus to (http:// or ws://)")
	flag.Parse()

	handler, err := newHandler(*root, *janus)
	if err != nil {
		log.Fatalf("sfu-demo: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("sfu-demo: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// Shutdown does not wait for hijacked (WebSocket) connections; the
		// browsers reconnect to the next server on their own.
		_ = srv.Shutdown(shut)
	}()
	log.Printf("sfu-demo: serving %s on http://%s, /janus -> %s", *root, ln.Addr(), *janus)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("sfu-demo: %v", err)
	}
}

// newHandler serves root as static files and forwards /janus (the
// WebSocket upgrade with its janus-protocol subprotocol) to janusURL.
func newHandler(root, janusURL string) (http.Handler, error) {
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("demo folder %s not found (build it: make demo)", root)
	}
	target, err := url.Parse(janusURL)
	if err != nil {
		return nil, fmt.Errorf("-janus %q: %v", janusURL, err)
	}
	switch target.Scheme {
	case "ws":
		target.Scheme = "http"
	case "wss":
		target.Scheme = "https"
	case "http", "https":
	default:
		return nil, fmt.Errorf("-janus %q: want ws://, wss://, http:// or https://", janusURL)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = target.Path // Janus's WebSocket transport ignores the path
			r.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Printf("sfu-demo: /janus: %v", err)
			http.Error(w, "Janus is not reachable at "+janusURL, http.StatusBadGateway)
		},
	}
	files := http.FileServer(http.Dir(root))
	mux := http.NewServeMux()
	mux.Handle("/janus", proxy)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Rebuilt bundles must reach the browser on reload.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	return mux, nil
}
