package controlplane

// InlineTopicsForTest exposes inlineTopics to the external tests.
var InlineTopicsForTest = inlineTopics
