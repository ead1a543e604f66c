package volume

import "fmt"

// FailedMountReason is the reason of the Warning event upstream's kubelet
// records on a pod for each volume it cannot set up.
const FailedMountReason = "FailedMount"

// MountError is a volume of a pod that SetUp could not make ready. Its
// message is upstream's FailedMount event message, for example
//
//	MountVolume.SetUp failed for volume "cfg" : configmap "x" not found
//
// so the pod worker can record it as it is.
type MountError struct {
	// Volume is the name of the volume in the pod's spec.
	Volume string
	// Err is why, in upstream's words where upstream has them.
	Err error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }

// MountErrors returns every *MountError inside err, in order. SetUp reports
// all the volumes that failed at once (joined with errors.Join), and upstream
// records one event per volume.
func MountErrors(err error) []*MountError {
	var out []*MountError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		switch u := err.(type) {
		case *MountError:
			out = append(out, u)
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
