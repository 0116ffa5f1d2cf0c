package verifyui

import (
	"bytes"
	"crypto/x509"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func upload(t *testing.T, h http.Handler, name string, data []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req := httptest.NewRequest("POST", "/verify?lang=en", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPage(t *testing.T) {
	h, err := New(Options{Roots: x509.NewCertPool(), MaxUpload: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/verify", nil)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.8")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != CSP || !strings.Contains(rec.Body.String(), "Verify a signed document") {
		t.Fatalf("GET /verify: %d %v", rec.Code, rec.Header())
	}
	if strings.Contains(rec.Body.String(), "<script") || strings.Contains(rec.Body.String(), "style=") {
		t.Fatal("the page has inline script or style")
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/verify?lang=fr", nil))
	if !strings.Contains(rec.Body.String(), "Vérifier un document signé") {
		t.Fatal("no French page")
	}

	// A file name is shown escaped, never as markup.
	rec = upload(t, h, `<img src=x onerror=alert(1)>.pdf`, []byte("%PDF-1.7 garbage"), nil)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "<img") || !strings.Contains(rec.Body.String(), "The file cannot be read") {
		t.Fatalf("garbage PDF: %d %s", rec.Code, rec.Body)
	}
	if rec := upload(t, h, "x.txt", []byte("hello"), nil); !strings.Contains(rec.Body.String(), "neither a PDF nor an evidence bundle") {
		t.Fatalf("unknown kind: %s", rec.Body)
	}
	if rec := upload(t, h, "big.pdf", bytes.Repeat([]byte("A"), 4<<10), nil); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d", rec.Code)
	}
	if rec := upload(t, h, "x.pdf", []byte("%PDF-"), map[string]string{"Sec-Fetch-Site": "cross-site"}); rec.Code != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/verify/assets/verify.css", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d", rec.Code)
	}
}
