package hosts

import (
	"strings"
	"unicode/utf8"
)

// xmlScan reads the subset of XML libvirt writes: elements, attributes in quotes,
// text, comments and the five predefined entities. It keeps no tokens: a reader asks
// for an element's attributes, its text or its children, and what it does not ask for
// is checked and skipped. Anything outside that subset (a DOCTYPE, CDATA, a character
// reference, a carriage return, a processing instruction, a name that is not ASCII...)
// sets bad, and the caller parses the document with encoding/xml instead, which then
// accepts or rejects it as it always did.
type xmlScan struct {
	s     string
	i     int
	depth int // of the element whose content is being read
	bad   bool
}

// maxScanDepth bounds the nesting the scanner reads (it recurses); deeper documents
// go to encoding/xml, which skips without recursion.
const maxScanDepth = 256

// xmlElem is a start tag just read: its qualified name and the raw text of its
// attributes. open is false for an empty-element tag (<a/>).
type xmlElem struct {
	name  string
	attrs string
	open  bool
}

// newXMLScan checks what can be checked at once (UTF-8, the characters XML allows,
// no carriage return, no "]]>") and stands before the root element.
func newXMLScan(s string) *xmlScan {
	z := &xmlScan{s: s}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' {
			z.bad = true
			return z
		}
		if c >= 0x80 {
			if !validXMLText(s[i:]) {
				z.bad = true
				return z
			}
			break
		}
	}
	if strings.Contains(s, "]]>") {
		z.bad = true
	}
	z.space()
	return z
}

// validXMLText says whether s is UTF-8 with only characters XML allows.
func validXMLText(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r == 0xFFFE, r == 0xFFFF: // RuneError: invalid UTF-8 too
			return false
		case r < 0x20 && r != '\t' && r != '\n':
			return false
		}
	}
	return true
}

func (z *xmlScan) space() {
	for z.i < len(z.s) {
		switch z.s[z.i] {
		case ' ', '\t', '\n':
			z.i++
		default:
			return
		}
	}
}

// root reads the root element's start tag. encoding/xml reads nothing after the
// root's end, so neither does the scanner.
func (z *xmlScan) root() (xmlElem, bool) {
	if z.bad || !strings.HasPrefix(z.s[z.i:], "<") || strings.HasPrefix(z.s[z.i:], "<!") ||
		strings.HasPrefix(z.s[z.i:], "<?") || strings.HasPrefix(z.s[z.i:], "</") {
		z.bad = true
		return xmlElem{}, false
	}
	return z.start()
}

// start reads a start tag at z.i ('<' included).
func (z *xmlScan) start() (xmlElem, bool) {
	z.i++
	name, ok := z.name()
	if !ok {
		return xmlElem{}, false
	}
	from := z.i
	for {
		at := z.i
		z.space()
		if z.i >= len(z.s) {
			z.bad = true
			return xmlElem{}, false
		}
		switch z.s[z.i] {
		case '>':
			z.i++
			return xmlElem{name: name, attrs: z.s[from:at], open: true}, true
		case '/':
			if !strings.HasPrefix(z.s[z.i:], "/>") {
				z.bad = true
				return xmlElem{}, false
			}
			z.i += 2
			return xmlElem{name: name, attrs: z.s[from:at]}, true
		}
		if z.i == at { // attributes are separated by white space
			z.bad = true
			return xmlElem{}, false
		}
		if _, ok := z.name(); !ok {
			return xmlElem{}, false
		}
		z.space()
		if z.i >= len(z.s) || z.s[z.i] != '=' {
			z.bad = true
			return xmlElem{}, false
		}
		z.i++
		z.space()
		if _, ok := z.quoted(); !ok {
			return xmlElem{}, false
		}
	}
}

// name reads an XML name of ASCII letters, digits and "_.-", with at most one ':'
// that neither starts nor ends it (encoding/xml splits there: prefix and local name).
func (z *xmlScan) name() (string, bool) {
	from, colons := z.i, 0
	for z.i < len(z.s) {
		c := z.s[z.i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' ||
			z.i > from && ('0' <= c && c <= '9' || c == '.' || c == '-' || c == ':') {
			if c == ':' {
				colons++
			}
			z.i++
			continue
		}
		break
	}
	n := z.s[from:z.i]
	if n == "" || colons > 1 || n[len(n)-1] == ':' {
		z.bad = true
		return "", false
	}
	return n, true
}

// quoted reads a quoted attribute value at z.i and returns it raw (entities not
// replaced); '<' or an entity other than the five predefined ones is refused.
func (z *xmlScan) quoted() (string, bool) {
	if z.i >= len(z.s) || z.s[z.i] != '"' && z.s[z.i] != '\'' {
		z.bad = true
		return "", false
	}
	q := z.s[z.i]
	z.i++
	end := strings.IndexByte(z.s[z.i:], q)
	if end < 0 {
		z.bad = true
		return "", false
	}
	v := z.s[z.i : z.i+end]
	z.i += end + 1
	if strings.IndexByte(v, '<') >= 0 || !entitiesOK(v) {
		z.bad = true
		return "", false
	}
	return v, true
}

var xmlEntities = [...]struct{ name, char string }{
	{"lt;", "<"}, {"gt;", ">"}, {"amp;", "&"}, {"apos;", "'"}, {"quot;", `"`},
}

// entitiesOK says whether every '&' in s starts one of the five predefined entities.
func entitiesOK(s string) bool {
	for {
		k := strings.IndexByte(s, '&')
		if k < 0 {
			return true
		}
		s = s[k+1:]
		n := entityLen(s)
		if n == 0 {
			return false
		}
		s = s[n:]
	}
}

// entityLen is the length of the predefined entity s starts with (after '&'), or 0.
func entityLen(s string) int {
	for _, e := range xmlEntities {
		if strings.HasPrefix(s, e.name) {
			return len(e.name)
		}
	}
	return 0
}

// unescape replaces the predefined entities of s (checked by entitiesOK).
func unescape(s string) string {
	k := strings.IndexByte(s, '&')
	if k < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for k >= 0 {
		b.WriteString(s[:k])
		s = s[k+1:]
		for _, e := range xmlEntities {
			if strings.HasPrefix(s, e.name) {
				b.WriteString(e.char)
				s = s[len(e.name):]
				break
			}
		}
		k = strings.IndexByte(s, '&')
	}
	b.WriteString(s)
	return b.String()
}

// attr is the value of e's attribute of local name local, as encoding/xml assigns
// it: the last one of that local name, whatever its prefix. Like text, it returns a
// copy: a substring would keep the whole document alive in the record.
func (e *xmlElem) attr(local string) (string, bool) {
	var val string
	found := false
	s := e.attrs
	for {
		s = strings.TrimLeft(s, " \t\n")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return strings.Clone(unescape(val)), found
		}
		n := strings.TrimRight(s[:eq], " \t\n")
		s = strings.TrimLeft(s[eq+1:], " \t\n")
		q := s[0] // checked by start
		end := strings.IndexByte(s[1:], q) + 1
		if localName(n) == local {
			val, found = s[1:end], true
		}
		s = s[end+1:]
	}
}

// localName is what encoding/xml calls the local part of a checked name.
func localName(n string) string {
	if _, local, ok := strings.Cut(n, ":"); ok {
		return local
	}
	return n
}

func (e *xmlElem) local() string { return localName(e.name) }

// text reads the content of the open element e up to its end tag and returns its
// own text (entities replaced; children and comments skipped, their text not
// included), as encoding/xml gives a string or ",chardata" field.
func (z *xmlScan) text(e xmlElem) string {
	if !e.open {
		return ""
	}
	var parts []string
	z.content(e.name, func(t string) { parts = append(parts, t) }, nil)
	if len(parts) == 1 {
		return strings.Clone(unescape(parts[0]))
	}
	return unescape(strings.Join(parts, ""))
}

// children reads the content of the open element e up to its end tag and calls fn for
// each child element; what fn leaves unread of a child is skipped.
func (z *xmlScan) children(e xmlElem, fn func(c xmlElem)) {
	if e.open {
		z.content(e.name, nil, fn)
	}
}

// skip reads and checks the content of e without using it.
func (z *xmlScan) skip(e xmlElem) {
	if e.open {
		z.content(e.name, nil, nil)
	}
}

// content reads up to the end tag of the element named name, handing text runs to
// text and child elements to child (skipping them when child is nil or leaves them).
func (z *xmlScan) content(name string, text func(string), child func(xmlElem)) {
	if z.depth++; z.depth > maxScanDepth {
		z.bad = true
	}
	defer func() { z.depth-- }()
	for !z.bad {
		k := strings.IndexByte(z.s[z.i:], '<')
		if k < 0 {
			z.bad = true
			return
		}
		if k > 0 {
			t := z.s[z.i : z.i+k]
			if !entitiesOK(t) {
				z.bad = true
				return
			}
			if text != nil {
				text(t)
			}
			z.i += k
		}
		rest := z.s[z.i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			// The first "--" must end the comment, as encoding/xml requires.
			end := strings.Index(rest[4:], "--")
			if end < 0 || !strings.HasPrefix(rest[4+end:], "-->") {
				z.bad = true
				return
			}
			z.i += 4 + end + 3
		case strings.HasPrefix(rest, "</"):
			z.i += 2
			n, ok := z.name()
			if !ok {
				return
			}
			z.space()
			if n != name || z.i >= len(z.s) || z.s[z.i] != '>' {
				z.bad = true
				return
			}
			z.i++
			return
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			z.bad = true
			return
		default:
			c, ok := z.start()
			if !ok {
				return
			}
			at := z.i
			if child != nil {
				child(c)
			}
			if z.i == at { // the child's content was not read
				z.skip(c)
			}
		}
	}
}
