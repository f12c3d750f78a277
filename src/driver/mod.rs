//! One module per backend (postgres, docker, process, host, proxy, command). Each
//! turns an action into a side effect and returns a handle that undoes it and
//! verifies the undo. Filled by the drivers issue; nothing here yet.
