package matcher

// fuzzyTier generates candidates within two edits of a query skeleton.
type fuzzyTier struct{}

func (t *fuzzyTier) add(id uint32, skel []byte)    {}
func (t *fuzzyTier) remove(id uint32, skel []byte) {}
