package ceremony_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// TestSMTPEmbedsLogo: an email's embedded parts travel over SMTP as inline parts named by their
// Content-ID, which the HTML body refers to; attachments stay attachments.
func TestSMTPEmbedsLogo(t *testing.T) {
	sink := ceremonytest.NewSMTPSink(t)
	m, err := ceremony.NewSMTPMailer(ceremony.SMTPConfig{Host: sink.Host, Port: sink.Port, Username: sink.User, Password: sink.Password,
		From: "Paraphe <signatures@example.org>", TLSConfig: sink.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	logo := []byte("\x89PNG\r\n\x1a\nnot really a picture")
	err = m.SendEmail(context.Background(), ceremony.Email{To: "alice@example.org", Subject: "Logo", Text: "text",
		HTML:        `<p><img src="cid:logo@paraphe" alt=""> Étude</p>`,
		Embedded:    []ceremony.Attachment{{Name: "logo.png", ContentType: "image/png", Data: logo, ContentID: "logo@paraphe"}},
		Attachments: []ceremony.Attachment{{Name: "doc.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7")}}})
	if err != nil {
		t.Fatal(err)
	}
	mails := sink.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	raw := string(mails[0].Raw)
	if !strings.Contains(raw, "Content-Id: <logo@paraphe>") && !strings.Contains(raw, "Content-ID: <logo@paraphe>") {
		t.Fatalf("no Content-ID for the logo:\n%s", raw)
	}
	if !strings.Contains(raw, "multipart/related") || !strings.Contains(raw, "Content-Disposition: inline") {
		t.Fatalf("the logo is not an inline part of a related body:\n%s", raw)
	}
	p, err := mails[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Attachments["logo.png"], logo) || string(p.Attachments["doc.pdf"]) != "%PDF-1.7" || !strings.Contains(p.HTML, "cid:logo@paraphe") {
		t.Fatalf("parsed: HTML %q, parts %v", p.HTML, len(p.Attachments))
	}
}
