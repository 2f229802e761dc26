package web

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"
)

//go:embed landing.html
var landingHTML string

var landingTmpl = template.Must(template.New("landing").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(landingHTML))

// landing is the page a person opens: the hosts with their state, VM count and last
// error, and links to the machine-readable endpoints.
func (s *Server) landing(w http.ResponseWriter, _ *http.Request) {
	var b bytes.Buffer
	if err := landingTmpl.Execute(&b, s.status()); err != nil {
		text(w, http.StatusInternalServerError, "landing page: "+err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(b.Bytes())
}
