package meshtest

// Subscription groups as 4.9.8's SubscriptionGroupManager keeps them: a table
// of group configs with a data version, the built-in groups from its init,
// consumer groups added with defaults at their first heartbeat
// (autoCreateSubscriptionGroup, findSubscriptionGroupConfig).

// builtinGroups are the groups SubscriptionGroupManager.init creates.
var builtinGroups = []string{
	"TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
	"CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS",
}

// subscriptionGroupConfig is SubscriptionGroupConfig in fastjson's form:
// getters' names, alphabetical.
type subscriptionGroupConfig struct {
	BrokerID                       int64  `json:"brokerId"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	GroupName                      string `json:"groupName"`
	NotifyConsumerIDsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
}

// newSubscriptionGroupConfig is a group with SubscriptionGroupConfig's defaults.
func newSubscriptionGroupConfig(group string) subscriptionGroupConfig {
	return subscriptionGroupConfig{
		GroupName: group, ConsumeEnable: true, ConsumeFromMinEnable: true, ConsumeBroadcastEnable: true,
		RetryQueueNums: 1, RetryMaxTimes: defaultMaxReconsume, WhichBrokerWhenConsumeSlowly: 1,
		NotifyConsumerIDsChangedEnable: true,
	}
}

// dataVersion is DataVersion in fastjson's form.
type dataVersion struct {
	Counter   int64 `json:"counter"`
	Timestamp int64 `json:"timestamp"`
}

// subscriptionGroupTable is SubscriptionGroupManager.encode's body.
type subscriptionGroupTable struct {
	DataVersion            dataVersion                        `json:"dataVersion"`
	SubscriptionGroupTable map[string]subscriptionGroupConfig `json:"subscriptionGroupTable"`
}

// initGroupsLocked fills the table with the built-in groups; the version's
// counter stays 0, as init does not advance it.
func (s *store) initGroupsLocked() {
	s.groups = make(map[string]subscriptionGroupConfig, len(builtinGroups))
	for _, g := range builtinGroups {
		s.groups[g] = newSubscriptionGroupConfig(g)
	}
	s.groupsVersion = dataVersion{Timestamp: s.c.clock.now().UnixMilli()}
}

// ensureGroup adds a consumer group with the defaults unless it exists,
// advancing the data version as findSubscriptionGroupConfig does.
func (s *store) ensureGroup(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[group]; ok {
		return
	}
	s.groups[group] = newSubscriptionGroupConfig(group)
	s.groupsVersion = dataVersion{Counter: s.groupsVersion.Counter + 1, Timestamp: s.c.clock.now().UnixMilli()}
}

// subscriptionGroups returns a copy of the table.
func (s *store) subscriptionGroups() subscriptionGroupTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := subscriptionGroupTable{DataVersion: s.groupsVersion, SubscriptionGroupTable: make(map[string]subscriptionGroupConfig, len(s.groups))}
	for k, v := range s.groups {
		out.SubscriptionGroupTable[k] = v
	}
	return out
}
