package meshtest

import (
	"context"
	"errors"
)

// RestartEmpty stops serving if needed and serves again on the same address
// with nothing: a control plane process that restarted and has not discovered
// its cluster yet. Clients that reconnect get no answer to their
// subscriptions (their requests wait, as go-control-plane holds a watch for a
// node without a snapshot) until [ControlPlane.Update] serves resources again;
// until then they keep what they had.
func (cp *ControlPlane) RestartEmpty(ctx context.Context) error {
	cp.Stop()
	cp.mu.Lock()
	addr, closed := cp.addr, cp.closed
	if !closed {
		cp.snapshots.ClearSnapshot(nodeKey)
		cp.current = Resources{}
	}
	cp.mu.Unlock()
	if closed {
		return errors.New("meshtest: control plane is closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return cp.listen(ctx, addr)
}
