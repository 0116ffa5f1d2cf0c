package ceremony

import (
	"context"
)

// Email is one message to one recipient, with a plain-text and an HTML body.
type Email struct {
	To          string       `json:"to"`
	ToName      string       `json:"to_name,omitempty"`
	Subject     string       `json:"subject"`
	Text        string       `json:"text"`
	HTML        string       `json:"html"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Embedded are inline parts that the HTML body shows by their ContentID ("cid:…"), such as
	// the organisation's logo.
	Embedded []Attachment `json:"embedded,omitempty"`
}

// Attachment is a file sent with an email.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
	// ContentID names an embedded part for the HTML body.
	ContentID string `json:"content_id,omitempty"`
}

// SMS is one text message to a phone number in E.164 form.
type SMS struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// Notifier delivers emails and SMS. A returned error means the message was not accepted by the
// next hop; the caller retries.
type Notifier interface {
	SendEmail(ctx context.Context, m Email) error
	SendSMS(ctx context.Context, m SMS) error
}

// Notifiers combines an email sender and an SMS sender into one Notifier.
type Notifiers struct {
	Mail interface {
		SendEmail(ctx context.Context, m Email) error
	}
	Text interface {
		SendSMS(ctx context.Context, m SMS) error
	}
}

// SendEmail implements Notifier.
func (n Notifiers) SendEmail(ctx context.Context, m Email) error { return n.Mail.SendEmail(ctx, m) }

// SendSMS implements Notifier.
func (n Notifiers) SendSMS(ctx context.Context, m SMS) error { return n.Text.SendSMS(ctx, m) }
