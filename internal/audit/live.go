package audit

import (
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// openLogs maps a node.db handle to the journaled Log writing to it. Readers that are handed only
// the handle (Tail, Since, Verify: the node's API, the delayed-inquiry window) use it to have the
// journal folded first, so that they see every acknowledged entry without a new parameter.
var openLogs sync.Map // *bbolt.DB -> *Log

// register claims db for l; two journaled logs on one file would fork the chain.
func register(l *Log) error {
	if _, dup := openLogs.LoadOrStore(l.db, l); dup {
		return errors.New("another audit log with a journal is open on this file")
	}
	return nil
}

func unregister(l *Log) {
	openLogs.CompareAndDelete(l.db, l)
}

// settle folds the journal of the log open on db, if any.
func settle(db *bbolt.DB) error {
	v, ok := openLogs.Load(db)
	if !ok || !v.(*Log).ready.Load() {
		return nil // none, or one still recovering: it folds everything before it serves
	}
	return v.(*Log).flush()
}

// flush returns once every entry appended before it is in node.db. After Close it waits for the
// writer's last fold instead.
func (l *Log) flush() error {
	r := &request{flush: true, done: make(chan struct{})}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		<-l.done
		return nil
	}
	l.queue <- r
	l.mu.RUnlock()
	<-r.done
	return r.err
}
