/*
 * The SDK is a header-only C target (CapsuleSDK) so the Swift host and the bundled plugins
 * share one definition of every ABI struct. SwiftPM wants at least one source file per C
 * target; this one also checks that capsule.h compiles on its own as C.
 */
#include "capsule.h"
