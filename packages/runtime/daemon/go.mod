module runtools.dev/daemon

go 1.19
