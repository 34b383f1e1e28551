package controlplane

import (
	"os"
	"time"

	"github.com/rmqmesh/rmqmesh/controlplane/policy"
)

// watchPolicyFile reloads the policy file when its content changes. It
// polls rather than watching inotify events so that a Kubernetes ConfigMap,
// which swaps a symlink, and an editor that writes a new file and renames it
// are both seen. A bad edit is refused whole, logged once (not on every
// check) and counted; the last good policy stays in force.
func (s *Server) watchPolicyFile() {
	t := time.NewTicker(s.o.policyInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.checkPolicyFile()
	}
}

func (s *Server) checkPolicyFile() {
	path := s.o.policyFile
	b, err := os.ReadFile(path)
	s.mu.Lock()
	current, rejected := s.policy.Digest, s.rejected
	s.mu.Unlock()
	if err != nil {
		s.refusePolicy("read:"+err.Error(), err)
		return
	}
	digest := policy.Digest(b)
	if digest == current {
		if rejected != nil {
			s.mu.Lock()
			s.rejected = nil
			s.mu.Unlock()
			s.log.Info("policy file is back to the policy in force", "file", path)
		}
		return
	}
	if rejected != nil && rejected.Digest == digest {
		return
	}
	p, err := policy.Parse(path, b)
	if err != nil {
		s.refusePolicy(digest, err)
		return
	}
	s.mu.Lock()
	err = s.checkBrokersLocked(p)
	if err == nil {
		s.policy, s.rejected = p, nil
		s.kickLocked()
	}
	s.mu.Unlock()
	if err != nil {
		s.refusePolicy(digest, err)
		return
	}
	s.m.policyReloads.WithLabelValues("applied").Inc()
	s.log.Info("policy reloaded", "file", path, "digest", p.Digest)
}

// refusePolicy keeps the policy in force and reports the refused edit once.
func (s *Server) refusePolicy(digest string, err error) {
	s.mu.Lock()
	if s.rejected != nil && s.rejected.Digest == digest {
		s.mu.Unlock()
		return
	}
	s.rejected = &rejection{Digest: digest, Error: err.Error(), At: time.Now()}
	s.mu.Unlock()
	s.m.policyReloads.WithLabelValues("rejected").Inc()
	s.log.Error("policy edit refused; the previous policy stays in force", "file", s.o.policyFile, "err", err)
}
