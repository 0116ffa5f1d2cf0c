package ceremonytest

import (
	"encoding/base64"
	"io"
	"strings"
)

// newBase64Reader decodes base64 split over lines, as MIME bodies are.
func newBase64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
}

type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if !strings.ContainsRune("\r\n", rune(c)) {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
