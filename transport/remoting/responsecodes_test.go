package remoting

import "testing"

func TestResponseCodeName(t *testing.T) {
	for code, want := range map[int32]string{
		Success:                 "SUCCESS",
		NoPermission:            "NO_PERMISSION",
		TopicNotExist:           "TOPIC_NOT_EXIST",
		SubscriptionNotExist:    "SUBSCRIPTION_NOT_EXIST",
		TransactionStateUnknown: "TRANSACTION_STATE_UNKNOW", // Apache RocketMQ's spelling
		PollingTimeout:          "POLLING_TIMEOUT",
		12345:                   "12345",
	} {
		if got := ResponseCodeName(code); got != want {
			t.Errorf("ResponseCodeName(%d) = %q, want %q", code, got, want)
		}
	}
}
