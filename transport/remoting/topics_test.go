package remoting_test

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func TestIsGroupTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"%RETRY%orders-consumer": true,
		"%DLQ%orders-consumer":   true,
		"orders":                 false,
		"TBW102":                 false,
		"RETRY%x":                false,
		"x%RETRY%":               false,
		"":                       false,
	} {
		if got := remoting.IsGroupTopic(topic); got != want {
			t.Errorf("IsGroupTopic(%q) = %v, want %v", topic, got, want)
		}
	}
}
