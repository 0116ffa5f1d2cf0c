package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// AXNode is a node of the browser's accessibility tree: what a screen reader is given.
type AXNode struct {
	Role, Name string
	// Ignored nodes are not exposed to assistive technologies (hidden, aria-hidden, presentational).
	Ignored bool
}

// AXTree returns the accessibility nodes of the element that the CSS selector sel finds and of
// its descendants, in the order Chromium lists them (the element first).
func (b *Browser) AXTree(sel string) []AXNode {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	ev, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: fmt.Sprintf(`document.querySelector(%q)`, sel)})
	if err != nil || ev.Result == nil || ev.Result.ObjectID == "" {
		b.T.Fatalf("%s: accessibility tree of %s: no such element (%v)", b.Name, sel, err)
	}
	res, err := chromedp.Call(ctx, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: ev.Result.ObjectID})
	if err != nil {
		b.T.Fatalf("%s: accessibility tree of %s: %v", b.Name, sel, err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil || len(v.Value) == 0 {
			return ""
		}
		var s string
		if json.Unmarshal([]byte(v.Value), &s) != nil {
			return string(v.Value)
		}
		return s
	}
	out := make([]AXNode, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		out = append(out, AXNode{Role: str(n.Role), Name: str(n.Name), Ignored: n.Ignored})
	}
	return out
}
