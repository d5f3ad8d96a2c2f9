from prefstream_cli.main import main

main()
