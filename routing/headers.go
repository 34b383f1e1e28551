package routing

// Headers gives header matchers a request's fields (the RocketMQ header's
// extFields). Header returns a field's value and whether it is there.
type Headers interface {
	Header(name string) (string, bool)
}

// MapHeaders is [Headers] over a map; a nil map has no fields.
type MapHeaders map[string]string

// Header implements [Headers].
func (m MapHeaders) Header(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}
