module netload

go 1.19
