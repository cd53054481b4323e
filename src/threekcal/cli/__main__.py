from threekcal.cli import app

app()
